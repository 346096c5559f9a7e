"""python -m ablate.plan: what would run, why, and how long it should take."""

from __future__ import annotations

import subprocess
import sys

from conftest import snakemake, tiny_config, write_config


def test_plan_names_new_and_changed_cells_and_estimates_the_time(tmp_path):
    config = tiny_config(design="list", cells=[{}, {"regularization": "dropout"}], seeds=[1])
    config["base"]["epochs"] = 1
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--resources", "gpu=1")

    config["factors"]["regularization"]["dropout"] = {"model": {"dropout": 0.5}}
    config["cells"].append({"augmentation": "geometric"})
    write_config(tmp_path, config)
    result = subprocess.run(
        [sys.executable, "-m", "ablate.plan", "--configfile", str(tmp_path / "config.yaml"),
         "--directory", str(tmp_path), "--gpus", "2"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0].startswith("study tiny:") and "2 of them training" in lines[0]
    assert "  augmentation-none__regularization-dropout seed 1: model.dropout: 0.3 -> 0.5" in lines
    assert "  augmentation-geometric__regularization-none seed 1: new" in lines
    assert not any("augmentation-none__regularization-none" in line for line in lines)
    estimate = lines[-1]
    assert estimate.startswith("estimated training time:") and "with 2 GPU slot(s)" in estimate
    minutes = float(estimate.split(":")[1].split("min")[0])
    assert minutes > 0
