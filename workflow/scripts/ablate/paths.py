"""Where every artifact of a study lives: the one output layout of ablate.

The rule files, the scripts, ``python -m ablate.plan`` and the tests take their paths from
here. Patterns keep Snakemake's wildcards (``{study}``, ``{cell}``, ``{seed}``,
``{split}``); ``run_dir`` and ``fill`` turn them into concrete paths.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
STUDY = RESULTS + "/{study}"
DOWNLOADS = RESULTS + "/downloads"  # shared by studies: a failed download resumes

# Data stage
RAW = STUDY + "/data/raw"
SPLIT = STUDY + "/data/split"
MANIFEST = STUDY + "/data/manifest.csv"
QUARANTINE = STUDY + "/data/quarantine.csv"
# Where every file under the source went, and what the split found.
INVENTORY = STUDY + "/data/inventory.csv"  # source, status, class, split, file, reason
CONFLICTING_LABELS = STUDY + "/data/conflicting_labels.csv"  # sha256, file, class, split
# test_file, test_class, other_file, other_split, other_class, distance, correlation
NEAR_DUPLICATES = STUDY + "/data/near_duplicates.csv"
ARRAYS = STUDY + "/data/arrays/{split}"  # + -images.npy / -labels.npy
ARRAY_IMAGES = ARRAYS + "-images.npy"
ARRAY_LABELS = ARRAYS + "-labels.npy"

# Train and evaluate stage: one folder per cell x seed
RUN = STUDY + "/cells/{cell}/seed-{seed}"
MODEL = RUN + "/model.keras"
HISTORY = RUN + "/history.csv"
PARAMS = RUN + "/params.yaml"
TRAIN_SUMMARY = RUN + "/train.json"
TEST_METRICS = RUN + "/test/metrics.json"
PER_CLASS = RUN + "/test/per_class.csv"
CONFUSION = RUN + "/test/confusion_matrix.csv"
PREDICTIONS = RUN + "/test/predictions.csv"  # one row per test image: paired comparisons
# Progress of an unfinished train job: outside the declared outputs, which Snakemake
# deletes when a job fails.
STATE = STUDY + "/state/{cell}/seed-{seed}"
# A run has a result once these exist (train writes its files only at its end).
RESULT_FILES = (TRAIN_SUMMARY, HISTORY, TEST_METRICS)

# Adaptive seeds: after each round, every cell's state (open or stopped, verdict, why) and
# the cells that train the next round (ablate.results.sequential).
ROUND = STUDY + "/rounds/round-{round}.json"

# Results stage
RUNS = STUDY + "/runs.csv"
SUMMARY = STUDY + "/summary.csv"
WARNINGS = STUDY + "/warnings.csv"
EFFECTS = STUDY + "/effects.csv"
LEVEL_MEANS = STUDY + "/level_means.csv"  # mean test accuracy per level and pair of levels
STUDY_HISTORY = STUDY + "/history.csv"
DESCRIPTION = STUDY + "/study.yaml"
TABLE = STUDY + "/tables/{name}.html"
FIGURE = STUDY + "/figures/{name}.png"
REPORT = STUDY + "/report.html"

# `snakemake mlflow`: every finished run logged to MLflow. The default tracking store
# (SQLite, MLflow 3's local backend) and its artifacts are not declared outputs: Snakemake
# would delete them before rerunning the step, and with them every run logged before.
# LOGGED is the step's output: the MLflow run of each cell x seed, and what was done.
MLFLOW = STUDY + "/mlflow"
MLFLOW_STORE = MLFLOW + "/mlflow.db"
MLFLOW_ARTIFACTS = MLFLOW + "/artifacts"
MLFLOW_LOGGED = MLFLOW + "/logged.csv"


def log(step: str, per: str | None = None) -> str:
    """Log file of a step: ``logs/<step>.log``, or one per ``per`` ('run', 'split' or
    'round')."""
    return STUDY + "/logs/" + step + _per(per) + ".log"


def benchmark(step: str, per: str | None = None) -> str:
    """Snakemake benchmark file of a step, laid out as its log."""
    return STUDY + "/benchmarks/" + step + _per(per) + ".tsv"


def _per(per: str | None) -> str:
    per_what = {"run": "/{cell}/seed-{seed}", "split": "/{split}", "round": "/round-{round}"}
    return per_what[per] if per else ""


def fill(pattern: str, **wildcards: object) -> str:
    """``pattern`` with its wildcards filled in; other braces are left alone."""
    for name, value in wildcards.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def run_dir(study: str, cell: str, seed: int | str, root: str | Path = ".") -> Path:
    """The folder of one run (cell x seed) under ``root``."""
    return Path(root, fill(RUN, study=study, cell=cell, seed=seed))


def has_result(study: str, cell: str, seed: int | str, root: str | Path = ".") -> bool:
    """Whether a run's result files exist."""
    return all(
        Path(root, fill(pattern, study=study, cell=cell, seed=seed)).exists()
        for pattern in RESULT_FILES
    )


def figure(name: str) -> str:
    """Pattern of the figure ``name`` (``{study}`` left as a wildcard)."""
    return fill(FIGURE, name=name)


def table(name: str) -> str:
    """Pattern of the HTML table ``name`` (``{study}`` left as a wildcard)."""
    return fill(TABLE, name=name)


# Optional TensorBoard logs of a run (``tensorboard: true``), written while it trains. Not a
# declared output: Snakemake would delete them when a job fails, and the point is to watch
# (and keep) the curves of running and failed runs alike.
TENSORBOARD = STUDY + "/tensorboard/{cell}/seed-{seed}"
