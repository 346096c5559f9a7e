"""Seed bank: many real runs of one tiny digits configuration, and of a level that is a
little worse, with every run's per-image test predictions. The verdict calibration
(bench/calibration.py, tests/test_verdicts.py) draws pseudo-cells from it.

Trains 3 levels x SEEDS seeds through the real workflow (train and evaluate jobs, nothing
else), then keeps level, seed, image, true and predicted class of every test image in
bench/data/seed_bank.csv.gz (committed: the calibration needs no training).

    .venv/bin/python bench/seed_bank.py [--seeds 20] [--cores 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BANK = REPO / "bench" / "data" / "seed_bank.csv.gz"
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from ablate import paths  # noqa: E402

# Level "a": a small convnet on all 1,797 digits at 16x16, a few epochs. Level "b" learns
# at 0.7 of the rate in as many epochs: a few points worse, as a real ablation level is.
# Level "c" learns at a hopeless rate: the known difference that any verdict must find.
CONFIG = {
    "study": "seed-bank",
    "dataset": {
        "source": "builtin:digits",
        "image_size": [16, 16],
        "color_mode": "grayscale",
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 2024},
    },
    "base": {
        "model": {"name": "small_convnet", "filters": [8, 16], "dense_units": 32},
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "batch_size": 32,
        "epochs": 4,
    },
    "factors": {
        "level": {
            "a": {},
            "b": {"optimizer": {"learning_rate": 0.0007}},
            "c": {"optimizer": {"learning_rate": 0.00001}},
        }
    },
    "resources": {"cpus": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seed-bank-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = {**CONFIG, "seeds": list(range(1, args.seeds + 1))}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    runs = [(f"level-{level}", seed) for level in ("a", "b", "c") for seed in config["seeds"]]
    targets = [paths.fill(paths.PREDICTIONS, study="seed-bank", cell=c, seed=s) for c, s in runs]
    subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--cores", str(args.cores), "--resources", "gpu=1", "--quiet", "rules"],
        check=True,
    )  # fmt: skip
    tables = []
    for (cell, seed), target in zip(runs, targets, strict=True):
        table = pd.read_csv(workdir / target, dtype={"true": str, "predicted": str})
        tables.append(table.assign(level=cell.removeprefix("level-"), seed=seed))
    bank = pd.concat(tables, ignore_index=True)[["level", "seed", "image", "true", "predicted"]]
    BANK.parent.mkdir(parents=True, exist_ok=True)
    bank.to_csv(BANK, index=False)
    accuracy = (bank["true"] == bank["predicted"]).groupby([bank["level"], bank["seed"]]).mean()
    print(accuracy.groupby("level").describe())
    print(f"wrote {BANK.relative_to(REPO)} ({len(bank)} rows; work in {workdir})")


if __name__ == "__main__":
    main()
