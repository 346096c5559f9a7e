import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from snakemake.utils import validate

# The shared package lives in workflow/scripts/ablate: Snakemake puts the scripts folder on
# every script's path (local, conda or cluster); the Snakefile needs it here too.
sys.path.insert(0, str(Path(workflow.current_basedir).parent / "scripts"))

from ablate.config import ConfigError, resolve_study, runtime_minutes, schema_problem

if problem := schema_problem(config):
    # One line naming the key, before snakemake's own (verbose) validation.
    raise ConfigError(
        f"config ({', '.join(map(str, workflow.configfiles))}): {problem} "
        "Every key is documented in workflow/schemas/config.schema.yaml."
    )
validate(config, "../schemas/config.schema.yaml")
STUDY = resolve_study(config)


wildcard_constraints:
    study=re.escape(STUDY.name),
    # Any path-safe name: listing the cells here would put the whole list into every
    # file pattern and slow planning of large grids down; study_cell() checks the name.
    cell=r"[^/]+",
    seed=r"\d+",
    split="train|validation|test",


def finished(cell, seed):
    """Whether a run's results exist (train jobs write theirs only at the end)."""
    folder = Path("results", STUDY.name, "cells", cell, f"seed-{seed}")
    return all(
        (folder / name).exists()
        for name in ("train.json", "history.csv", "test/metrics.json")
    )


# The runs the results steps summarise: every cell x seed (cells in design order), or with
# `partial: true` only those that have finished, so nothing is trained and the others are
# listed as not run.
RUNS = [(cell, seed) for cell in STUDY.cells for seed in STUDY.seeds]
NOT_RUN = [run for run in RUNS if config["partial"] and not finished(*run)]
RUNS = [run for run in RUNS if run not in NOT_RUN]


def run_paths(pattern):
    """``pattern`` filled in for every summarised run."""
    return [
        pattern.format(study=STUDY.name, cell=cell, seed=seed) for cell, seed in RUNS
    ]


def run_table(runs=None):
    """{cell, seed, levels} of every summarised run (or of ``runs``), in the order of
    ``run_paths``."""
    return [
        {"cell": cell, "seed": seed, "levels": STUDY.cells[cell].levels}
        for cell, seed in (RUNS if runs is None else runs)
    ]


def aggregate_finished_runs():
    """After a --keep-going run in which jobs failed: summarise the runs that finished, in
    a second snakemake with `partial: true` that trains nothing, so the tables, figures and
    report exist and name the missing cells. The next full run replaces them."""
    if not any(finished(cell, seed) for cell, seed in RUNS):
        print("ablate: no run has finished yet: nothing to summarise.", file=sys.stderr)
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as overrides:
        # --config values given to this run, types kept (--config would read strings).
        yaml.safe_dump({**workflow.config_settings.config, "partial": True}, overrides)
    # Targets first: --configfile and --allowed-rules take every word after them.
    command = [
        *(sys.executable, "-m", "snakemake", *final_targets()),
        *("--snakefile", workflow.main_snakefile),
        *("--directory", os.getcwd(), "--cores", "1", "--nolock", "--no-hooks"),
        *("--allowed-rules", "aggregate", "tables", "describe", "figures"),
    ]
    # The files this run read: those given with --configfile, else the Snakefile's own
    # (config.yaml). One --configfile with all of them: a second would replace the first.
    given = workflow.config_settings.configfiles or workflow.configfiles
    command += ["--configfile", *map(str, given), overrides.name]
    print(
        "ablate: jobs failed; summarising the runs that finished (partial: true) ...",
        file=sys.stderr,
    )
    done = subprocess.run(command)
    os.unlink(overrides.name)
    if done.returncode != 0:
        print(
            "ablate: could not summarise the finished runs (see above).",
            file=sys.stderr,
        )


def cell_table():
    """{cell: {levels, settings}} of the study, in design order."""
    return {
        cell.name: {"levels": cell.levels, "settings": cell.settings}
        for cell in STUDY.cells.values()
    }


def final_targets():
    """The study's tables, description and figures (called by rule all, once every rule
    exists)."""
    return expand(
        [
            *rules.aggregate.output,
            *rules.tables.output,
            *rules.describe.output,
            *rules.figures.output,
        ],
        study=STUDY.name,
    )


def dataset_images(wildcards):
    return {
        "image_size": config["dataset"]["image_size"],
        "color_mode": config["dataset"]["color_mode"],
    }


def fetch_options(wildcards):
    # What the data is; where it is kept (tfds_data_dir, results/downloads) is read by the
    # script from the config, so moving it does not rerun the study.
    return {"sha256": STUDY.dataset.get("sha256")}


def split_input(split):
    """What train and evaluate jobs read of one split: its decoded (images, labels) array
    files, or with dataset.decode 'every_epoch' the split folder."""
    if STUDY.dataset["decode"] == "every_epoch":
        return "results/{study}/data/split"
    return multiext(
        f"results/{{study}}/data/arrays/{split}", "-images.npy", "-labels.npy"
    )


def study_cell(wildcards):
    if wildcards.cell not in STUDY.cells:
        raise ValueError(
            f"no cell '{wildcards.cell}' in study '{STUDY.name}'; its cells are: "
            f"{', '.join(STUDY.cells)}."
        )
    return STUDY.cells[wildcards.cell]


def cell_settings(wildcards):
    return study_cell(wildcards).settings


def cell_description(wildcards):
    cell = study_cell(wildcards)
    return {"study": STUDY.name, "cell": cell.name, "levels": cell.levels}


def train_runtime(wildcards, attempt):
    return runtime_minutes(config["resources"], attempt)


def cell_gpus(wildcards):
    return study_cell(wildcards).settings["gpus"]


def cell_batch_size(wildcards):
    return study_cell(wildcards).settings["batch_size"]
