"""Log every finished run of the study to MLflow (`snakemake mlflow`). Named tracking.py, not
mlflow.py: the scripts folder is on every job's PYTHONPATH, where it would hide MLflow."""

import sys
from pathlib import Path

from ablate.logs import log_to
from ablate.results.tracking import MissingPackage, RunFiles, log_study

params, inputs = snakemake.params, snakemake.input
try:
    with log_to(snakemake.log[0]) as log:
        runs = [
            RunFiles(run["cell"], run["seed"], *map(Path, files))
            for run, *files in zip(params.runs, inputs.model, inputs.history, inputs.params,
                                   inputs.train, inputs.test, inputs.predictions, strict=True)
        ]  # fmt: skip
        logged = log_study(params.study, runs, inputs.summary, params.tracking_uri,
                           params.artifacts)  # fmt: skip
        logged.to_csv(snakemake.output.logged, index=False)
        log.info("MLflow runs of study %s at %s:\n%s", params.study, params.tracking_uri,
                 logged.to_string())  # fmt: skip
except MissingPackage as error:
    sys.exit(f"ablate: {error}")  # one line where snakemake runs (and in the log above)

# Where snakemake runs: what changed in MLflow, and where to look.
counts = logged["action"].value_counts()
done = ", ".join(f"{counts.get(a, 0)} {a}" for a in ("logged", "replaced", "unchanged"))
experiment = logged["experiment_id"].iloc[0] if len(logged) else "-"
print(
    f"ablate: study {params.study} in MLflow at {params.tracking_uri} "
    f"(experiment {experiment}): {done}",
    file=sys.stderr,
)
