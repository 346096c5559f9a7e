"""What a run would do, before it does it: which train jobs are new, which changed and in
what setting, and how long they should take, from the benchmark files of runs done.

    python -m ablate.plan [--configfile config.yaml] [--gpus N] [-- extra snakemake options]

Snakemake's dry run decides what runs (the same rerun triggers as the real run); this
adds the setting-by-setting difference to the kept params.yaml and the time estimate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ablate import paths
from ablate.config import resolve_study
from ablate.settings import Study, describe_cell, run_params

SNAKEFILE = Path(__file__).resolve().parents[3] / "Snakefile"
Job = tuple[str, dict[str, str]]  # rule, and its wildcards, resources, threads and reason


def dry_run(workdir: Path, configfile: Path, extra: Sequence[str] = ()) -> list[Job]:
    """The jobs of ``snakemake --dry-run``."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
               "--directory", str(workdir), "--configfile", str(configfile),
               "--dry-run", *extra]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake --dry-run failed:\n{result.stdout}\n{result.stderr}")
    return parse_dry_run(result.stdout + result.stderr)


# How a dry run opens a job: checkpoints (the adaptive study's decide) and local rules too.
JOB_KINDS = ("rule", "checkpoint", "localrule", "localcheckpoint")


def parse_dry_run(output: str) -> list[Job]:
    """(rule, fields) of every job a dry run prints; fields hold its wildcards, resources,
    threads and reason."""
    jobs: list[Job] = []
    for line in output.splitlines():
        line = line.strip()
        key, _, value = line.partition(":")
        kind, _, name = line.removesuffix(":").partition(" ")
        if line.endswith(":") and kind in JOB_KINDS and name and " " not in name:
            jobs.append((name, {}))
        elif key in ("threads", "reason") and jobs:
            jobs[-1][1][key] = value.strip()
        elif key in ("wildcards", "resources") and jobs:
            jobs[-1][1].update(pair.strip().split("=", 1) for pair in value.split(","))
    return jobs


def differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    """'key.path: old -> new' for every setting that differs."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        changed = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            changed += differences(old.get(key, "(unset)"), new.get(key, "(unset)"), path)
        return changed
    return [] if old == new else [f"{prefix}: {old} -> {new}"]


def past_seconds(workdir: Path, study: str) -> dict[tuple[str, str], float]:
    """Wall seconds of every finished train job, from Snakemake's benchmark files."""
    seconds = {}
    pattern = paths.fill(paths.benchmark("train", per="run"), study=study, cell="*", seed="*")
    for path in sorted(workdir.glob(pattern)):
        table = pd.read_csv(path, sep="\t")
        if len(table):
            seconds[(path.parent.name, path.stem.removeprefix("seed-"))] = float(
                table["s"].iloc[-1]
            )
    return seconds


def plan(workdir: Path, configfile: Path, gpus: int = 1, extra: Sequence[str] = ()) -> str:
    study = resolve_study(yaml.safe_load(configfile.read_text()), workdir)
    jobs = dry_run(workdir, configfile, extra)
    trains = [fields for rule, fields in jobs if rule == "train"]
    seconds = past_seconds(workdir, study.name)
    typical = statistics.median(seconds.values()) if seconds else None
    lines = [f"study {study.name}: {len(jobs)} job(s) to run, {len(trains)} of them training"]
    estimate = 0.0
    for job in trains:
        cell, seed = job["cell"], job["seed"]
        kept = workdir / paths.fill(paths.PARAMS, study=study.name, cell=cell, seed=seed)
        if not kept.exists():
            why = ["new"]
        else:
            new = run_params(
                describe_cell(study, cell),
                int(seed),
                study.dataset.images(),
                study.cells[cell].settings.as_dict(),
            )
            old = yaml.safe_load(kept.read_text())
            old.pop("provenance", None)  # a record of what ran, not a setting
            why = differences(old, new) or [job.get("reason") or "inputs changed"]
        # its own last run, else the median of the runs done (none: no estimate at all)
        estimate += seconds.get((cell, seed), typical or 0.0)
        lines.append(f"  {cell} seed {seed}: " + "; ".join(why))
    if study.adaptive:
        lines += adaptive_lines(study, workdir, typical)
    if trains:
        if estimate:
            per_slot = estimate / max(gpus, 1)
            lines.append(
                f"estimated training time: {estimate / 60:.1f} min of train jobs, about "
                f"{per_slot / 60:.1f} min with {gpus} GPU slot(s) in parallel"
            )
        else:
            lines.append("no finished train job yet: no time estimate")
    return "\n".join(lines)


def adaptive_lines(study: Study, workdir: Path, typical: float | None) -> list[str]:
    """An adaptive study's range of train jobs (and time, from runs done), and each cell's
    state after the last round decided so far (open or stopped, and why)."""
    cells = len(study.cells)
    least, most = cells * len(study.rounds[0]), cells * len(study.seeds)
    text = (f"adaptive seeds: {least} to {most} train jobs in all, {len(study.rounds)} rounds "
            f"({len(study.rounds[0])} to {len(study.seeds)} seeds per cell)")  # fmt: skip
    if typical is not None:
        text += f", about {least * typical / 60:.1f} to {most * typical / 60:.1f} min of training"
    lines = [text + "; the dry run lists the jobs up to the next decision"]
    decided = [workdir / paths.fill(paths.ROUND, study=study.name, round=number)
               for number in range(len(study.rounds))]  # fmt: skip
    decided = [path for path in decided if path.exists()]
    if not decided:
        return [*lines, "no round decided yet: every cell is open"]
    last = json.loads(decided[-1].read_text())
    still = [cell for cell, state in last["cells"].items() if state["state"] == "open"]
    lines.append(f"after round {last['round'] + 1}: {len(still)} cell(s) open")
    for cell, state in last["cells"].items():
        lines.append(f"  {cell}: {state['state']} ({state['why']})")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, default=Path("config.yaml"))
    parser.add_argument("--directory", type=Path, default=Path("."))
    parser.add_argument("--gpus", type=int, default=1, help="train jobs that run at once")
    parser.add_argument("extra", nargs="*", help="more snakemake options, after --")
    args = parser.parse_args(argv)
    print(plan(args.directory.resolve(), args.configfile.resolve(), args.gpus, args.extra))


if __name__ == "__main__":
    main()
