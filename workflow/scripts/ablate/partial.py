"""Summaries of unfinished studies: which runs have a result, and the second snakemake that
summarises them after a --keep-going run in which jobs failed.

Snakemake runs no job whose inputs are missing, so failed train jobs would hold the tables
back; the Snakefile's ``onerror`` hook calls ``summarise_finished`` instead, which runs the
results steps alone with ``partial: true`` (nothing is trained; the missing runs are listed
as not run). The next full run retrains them and replaces the partial tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ablate import paths

# The steps that summarise; the partial run may run nothing else.
RESULTS_RULES = ("aggregate", "tables", "describe", "figures")
Run = tuple[str, int]  # (cell, seed)


def runs_without_result(study: str, runs: Iterable[Run], root: str | Path = ".") -> list[Run]:
    """The runs whose result files do not all exist yet."""
    return [(cell, seed) for cell, seed in runs if not paths.has_result(study, cell, seed, root)]


def partial_command(
    targets: Sequence[str],
    snakefile: str | Path,
    workdir: str | Path,
    configfiles: Sequence[str | Path],
    overrides: str | Path,
) -> list[str]:
    """The snakemake command that summarises the finished runs only."""
    # Targets first: --configfile and --allowed-rules take every word after them. One
    # --configfile with all the files: a second would replace the first.
    return [
        *(sys.executable, "-m", "snakemake", *targets),
        *("--snakefile", str(snakefile)),
        *("--directory", str(workdir), "--cores", "1", "--nolock", "--no-hooks"),
        *("--allowed-rules", *RESULTS_RULES),
        *("--configfile", *map(str, configfiles), str(overrides)),
    ]


def summarise_finished(
    *,
    study: str,
    runs: Iterable[Run],
    targets: Sequence[str],
    snakefile: str | Path,
    configfiles: Sequence[str | Path],
    given_config: Mapping[str, Any],
    workdir: str | Path | None = None,
    run: Callable[[list[str]], Any] = subprocess.run,
) -> int | None:
    """After a --keep-going run in which jobs failed: summarise the runs that finished, in
    a second snakemake with ``partial: true``. Returns its exit code (None: nothing had
    finished, so there is nothing to summarise).

    ``configfiles`` are the files the failed run read and ``given_config`` its --config
    values (kept with their types: --config would read them as text).
    """
    workdir = Path(workdir or os.getcwd())
    runs = list(runs)
    if len(runs_without_result(study, runs, workdir)) == len(runs):
        print("ablate: no run has finished yet: nothing to summarise.", file=sys.stderr)
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as overrides:
        yaml.safe_dump({**given_config, "partial": True}, overrides)
    print("ablate: jobs failed; summarising the runs that finished (partial: true) ...",
          file=sys.stderr)  # fmt: skip
    try:
        command = partial_command(targets, snakefile, workdir, configfiles, overrides.name)
        code = run(command).returncode
    finally:
        os.unlink(overrides.name)
    if code != 0:
        print("ablate: could not summarise the finished runs (see above).", file=sys.stderr)
    return code
