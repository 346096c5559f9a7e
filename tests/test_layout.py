"""The package's shape: import directions, module size, planning without TensorFlow, and
jobs that run the code of the workflow they belong to."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO, tiny_config, write_config

from ablate.partial import RESULTS_RULES, partial_command, summarise_finished

PACKAGE = REPO / "workflow" / "scripts" / "ablate"


def test_stages_import_downwards_only():
    """import-linter's contracts in pyproject.toml: data -> train -> results, shared below."""
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([linter, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_is_over_about_300_lines():
    sizes = {path: len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert len(sizes) > 30
    assert not {path.relative_to(PACKAGE): n for path, n in sizes.items() if n > 320}


def test_planning_a_study_imports_no_tensorflow(tmp_path):
    """The Snakefile resolves every study at parse time: TensorFlow would add seconds to
    every snakemake call (and every job, which parses the Snakefile again on a cluster)."""
    configs = [REPO / "config.yaml", *sorted((REPO / "studies").glob("*.yaml"))]
    for path in configs:  # the folders of dir: sources, which planning checks
        source = yaml.safe_load(path.read_text())["dataset"]["source"]
        if source.startswith("dir:"):
            (tmp_path / source.removeprefix("dir:")).mkdir(parents=True)
    code = (
        "import sys, yaml\n"
        "from ablate.config import resolve_study\n"
        "import ablate.plan\n"
        f"for path in {list(map(str, configs))!r}:\n"
        f"    assert resolve_study(yaml.safe_load(open(path)), {str(tmp_path)!r}).cells\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'tensorflow_datasets') "
        "if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_job_runs_its_own_workflows_package_whatever_is_installed(tmp_path):
    """A second clone sharing this clone's environment (where this clone's ablate is
    installed, editable) runs its own code in its jobs, not the installed one."""
    clone = tmp_path / "second-clone"
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "results")
    clone.mkdir()
    for part in ("Snakefile", "config.yaml", "workflow", "profiles", "envs"):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, clone / part, ignore=ignore)
        else:
            shutil.copy2(source, clone / part)
    workdir = tmp_path / "work"
    write_config(workdir, tiny_config())
    command = [
        sys.executable, "-m", "snakemake", "results/tiny/data/raw",
        "--snakefile", str(clone / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "1",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (workdir / "results" / "tiny" / "logs" / "download.log").read_text()
    used = clone / "workflow" / "scripts" / "ablate"
    assert f"ablate package: {used.resolve()}" in log
    assert str(PACKAGE) not in log


def test_the_partial_summary_runs_only_the_results_steps(tmp_path):
    """The onerror hook's second snakemake: targets first, the files the run read and the
    partial override in one --configfile, only the results rules allowed."""
    command = partial_command(["t1", "t2"], "Snakefile", tmp_path, ["a.yaml"], "o.yaml")
    assert command[3:5] == ["t1", "t2"]
    allowed = command.index("--allowed-rules")
    assert command[allowed + 1 : allowed + 5] == list(RESULTS_RULES)
    assert command[-3:] == ["--configfile", "a.yaml", "o.yaml"]
    assert "--nolock" in command and "--no-hooks" in command

    calls = []

    def run(command):
        calls.append(command)
        overrides = Path(command[-1]).read_text()
        assert "partial: true" in overrides and "seeds:" in overrides
        return subprocess.CompletedProcess(command, 0)

    kwargs = dict(
        study="s", runs=[("a", 1), ("b", 1)], targets=["t"], snakefile="Snakefile",
        configfiles=["c.yaml"], given_config={"seeds": [1]}, workdir=tmp_path, run=run,
    )  # fmt: skip
    assert summarise_finished(**kwargs) is None and not calls  # nothing finished yet
    folder = tmp_path / "results" / "s" / "cells" / "a" / "seed-1"
    (folder / "test").mkdir(parents=True)
    for name in ("train.json", "history.csv", "test/metrics.json"):
        (folder / name).write_text("")
    assert summarise_finished(**kwargs) == 0 and len(calls) == 1
    assert not Path(calls[0][-1]).exists()  # the override file is cleaned up
