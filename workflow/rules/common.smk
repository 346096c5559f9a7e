import json
import re
import sys
from pathlib import Path

from snakemake.utils import validate

# The shared package lives in workflow/scripts/ablate: first on the path of this process,
# and of every job (ablate.use_in_jobs), whatever other ablate is installed.
sys.path.insert(0, str(Path(workflow.current_basedir).parent / "scripts"))

import ablate

ablate.use_in_jobs()

from ablate import paths
from ablate.partial import runs_without_result, summarise_finished
from ablate.data.sources import source_fingerprint as fingerprint_of
from ablate.config import ConfigError, resolve_study, runtime_minutes, with_defaults
from ablate.design import looks_of
from ablate.settings import describe_cell
from ablate.train import user_models

# One line naming the key and the file, before any job; then Snakemake's own validation
# (defaults are filled by ablate.config, from the same schema, also into `config`, which
# the describe step records as run; in the schema's key order, so that the same config
# written in another order changes no params).
try:
    STUDY = resolve_study(config)
    filled = with_defaults(config)
    config.clear()
    config.update(filled)
except ConfigError as error:
    files = ", ".join(map(str, workflow.configfiles))
    raise ConfigError(
        f"{files}: {error} Every key is documented in workflow/schemas/config.schema.yaml."
    ) from None
validate(config, "../schemas/config.schema.yaml", set_default=False)


def share_gpus(runs_per_gpu):
    """With `resources.runs_per_gpu` k, `--resources gpu=N` admits k x N one-GPU train
    jobs: Snakemake counts whole numbers only, so the limit it was given is scaled, and
    each job takes its seat on a GPU itself (ablate.train.gpu_slots)."""
    given = workflow.global_resources.get("gpu").value
    if runs_per_gpu > 1 and isinstance(given, int):
        workflow.register_resource("gpu", given * runs_per_gpu)


share_gpus(STUDY.resources.runs_per_gpu)


wildcard_constraints:
    study=re.escape(STUDY.name),
    # Any path-safe name: listing the cells here would put the whole list into every
    # file pattern and slow planning of large grids down; study_cell() checks the name.
    cell=r"[^/]+",
    seed=r"\d+",
    round=r"\d+",
    split="train|validation|test",


# The runs the results steps summarise: every cell x seed (cells in design order), or with
# `partial: true` only those that have finished, so nothing is trained and the others are
# listed as not run. An adaptive study's later rounds are chosen by the decision after each
# round (the checkpoint `decide`): study_runs() reads them as they appear.
def next_cells(decision):
    """The cells a decision file sends to the next round."""
    return json.loads(Path(decision).read_text())["next"]


def rounds_on_disk():
    """The cells chosen for each later round by the decisions already written."""
    chosen = []
    for number in range(len(STUDY.rounds) - 1):
        decision = Path(paths.fill(paths.ROUND, study=STUDY.name, round=number))
        if not decision.exists():
            break
        chosen.append(next_cells(decision))
    return chosen


def runs_of_rounds(chosen):
    """(cell, seed) of every cell in the first round, then of ``chosen[r]`` in round r + 1."""
    runs = [(cell, seed) for cell in STUDY.cells for seed in STUDY.rounds[0]]
    for cells, seeds in zip(chosen, STUDY.rounds[1:]):
        runs += [(cell, seed) for cell in cells for seed in seeds]
    return runs


RUNS = runs_of_rounds(rounds_on_disk() if STUDY.adaptive else [])
NOT_RUN = runs_without_result(STUDY.name, RUNS) if STUDY.partial else []
RUNS = [run for run in RUNS if run not in NOT_RUN]
ADAPTIVE = STUDY.adaptive and not STUDY.partial
LOOKS = looks_of(STUDY.rounds)


def decided(last=None):
    """(file, cells of the next round) of an adaptive study's decisions up to ``last`` (all
    rounds that ran when None: until one leaves no cell open). Each is a checkpoint: until
    it exists, Snakemake plans up to it and re-plans after it."""
    found = []
    for number in range(len(STUDY.rounds) if last is None else last):
        decision = checkpoints.decide.get(study=STUDY.name, round=number).output[0]
        found.append((decision, next_cells(decision)))
        if not found[-1][1]:
            break
    return found


def decisions(last=None):
    """The decision files of ``decided``."""
    return [decision for decision, _ in decided(last)]


def study_runs(last=None):
    """The runs summarised (fixed or partial study), or those of an adaptive study's
    rounds 0..``last`` (all when None) as its decisions chose them."""
    if not ADAPTIVE:
        return RUNS
    return runs_of_rounds([cells for _, cells in decided(last)])


def run_paths(pattern, last=None):
    """Input function: ``pattern`` filled in for every summarised run, or with ``last`` (a
    function of the wildcards giving a round) for the runs of rounds 0..that round."""

    def files(wildcards):
        runs = study_runs(last(wildcards) if last else None)
        return [paths.fill(pattern, study=STUDY.name, cell=c, seed=s) for c, s in runs]

    return files


def run_table(runs=None):
    """{cell, seed, levels} of every summarised run (or of ``runs``), in the order of
    ``run_paths``."""
    return [
        {"cell": cell, "seed": seed, "levels": STUDY.cells[cell].levels}
        for cell, seed in (study_runs() if runs is None else runs)
    ]


def summarised_runs(wildcards):
    return run_table()


def decided_round(wildcards):
    return int(wildcards.round)


def decided_runs(wildcards):
    return run_table(study_runs(decided_round(wildcards)))


def previous_decision(wildcards):
    number = int(wildcards.round)
    return decisions(number)[-1:] if number else []


def aggregate_finished_runs():
    """The onerror hook's summary of the runs that finished (ablate.partial)."""
    summarise_finished(
        study=STUDY.name,
        runs=RUNS,
        targets=final_targets(),
        snakefile=workflow.main_snakefile,
        # The files this run read: those given with --configfile, else the Snakefile's.
        configfiles=workflow.config_settings.configfiles or workflow.configfiles,
        given_config=workflow.config_settings.config,
    )


# Each cell's settings as the plain mapping its jobs get as params (the rerun trigger):
# made once per cell, not once per job and again for the description.
CELL_SETTINGS = {name: cell.settings.as_dict() for name, cell in STUDY.cells.items()}


def cell_table():
    """{cell: {levels, settings}} of the study, in design order."""
    return {
        cell.name: {"levels": cell.levels, "settings": CELL_SETTINGS[cell.name]}
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


# What decoding and the models need of the data set: the same for every job, so a value
# rather than a function of each job's wildcards.
DATASET_IMAGES = STUDY.dataset.images()


def source_fingerprint(wildcards):
    # A dir: source's names, sizes and modification times: a change reruns everything
    # from the download on ("params changed").
    return fingerprint_of(STUDY.dataset.source)


def fetch_options(wildcards):
    # What the data is; where it is kept (tfds_data_dir, results/downloads) is read by the
    # script from the config, so moving it does not rerun the study.
    return {"sha256": STUDY.dataset.sha256}


def split_input(split):
    """What train and evaluate jobs read of one split: its decoded (images, labels) array
    files, or with dataset.decode 'every_epoch' the split folder."""
    if STUDY.dataset.decode == "every_epoch":
        return paths.SPLIT
    return [
        paths.fill(pattern, split=split)
        for pattern in (paths.ARRAY_IMAGES, paths.ARRAY_LABELS)
    ]


def study_cell(wildcards):
    if wildcards.cell not in STUDY.cells:
        raise ValueError(
            f"no cell '{wildcards.cell}' in study '{STUDY.name}'; its cells are: "
            f"{', '.join(STUDY.cells)}."
        )
    return STUDY.cells[wildcards.cell]


def cell_settings(wildcards):
    return CELL_SETTINGS[study_cell(wildcards).name]


def cell_description(wildcards):
    return describe_cell(STUDY, study_cell(wildcards).name)


def own_model_file(wildcards):
    """The file of a cell's own model builder (`file:PATH:FUNCTION`): an input of its
    train jobs, so that editing the file retrains exactly the cells that use it."""
    name = study_cell(wildcards).settings.model["name"]
    return [str(user_models.model_file(name))] if user_models.is_own(name) else []


def train_runtime(wildcards, attempt):
    return runtime_minutes(STUDY.resources, attempt)


def per_cell(setting):
    """A cell setting as a value of params or resources: the value itself when every cell
    has the same (Snakemake then calls nothing per job; train's other params still check
    the cell's name), else a function of the job's cell."""
    values = [getattr(cell.settings, setting) for cell in STUDY.cells.values()]
    if all(value == values[0] for value in values):
        return values[0]

    def of_cell(wildcards):
        return getattr(study_cell(wildcards).settings, setting)

    return of_cell


# `snakemake mlflow` (workflow/rules/tracking.smk): not part of `all`. Its files are the
# study's own, without a wildcard, so that the rule's name is a target.
def study_path(pattern):
    return paths.fill(pattern, study=STUDY.name)


def mlflow_tracking_uri():
    """`--config mlflow=URI`, else the study's own SQLite store (the params trigger logs
    the study again when it changes)."""
    return config.get("mlflow") or "sqlite:///" + study_path(paths.MLFLOW_STORE)


def mlflow_artifacts():
    """Where the study's own store keeps artifacts; a server decides for itself."""
    return None if config.get("mlflow") else study_path(paths.MLFLOW_ARTIFACTS)
