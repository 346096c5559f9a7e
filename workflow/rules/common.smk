import re
import sys
from pathlib import Path

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


def run_paths(pattern):
    """``pattern`` filled in for every cell x seed of the study, cells in design order."""
    return [
        pattern.format(study=STUDY.name, cell=cell, seed=seed)
        for cell in STUDY.cells
        for seed in STUDY.seeds
    ]


def run_table():
    """{cell, seed, levels} for every cell x seed, in the order of ``run_paths``."""
    return [
        {"cell": cell.name, "seed": seed, "levels": cell.levels}
        for cell in STUDY.cells.values()
        for seed in STUDY.seeds
    ]


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
