"""Every finished run of a study in MLflow: one experiment per study, one MLflow run per
cell x seed, found again by its tags, so that logging twice adds nothing.

A run's MLflow record is its cell's resolved settings (params, flattened keys), every
epoch's metrics at their epoch as step, its test and training metrics, its study, cell,
seed, status and verdict (tags) and its files (artifacts). MLflow is an optional package:
it is imported only here, when a study is logged.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ablate import status
from ablate.results.io import read_table

INSTALL = "MLflow is not installed: pip install -e '.[mlflow]' (or pip install 'mlflow>=3.18,<4')"
# Set last, once everything else of a run is logged: a run without it (a step killed
# midway) is incomplete and logged again. It is the sha256 of the files that describe a
# run's result, so a retrained run (new settings, a --forcerun) no longer matches.
FINGERPRINT = "ablate.fingerprint"
FINGERPRINTED = ("params", "train", "metrics", "history")
# Where each file goes among a run's artifacts (the folders of the run's own layout).
ARTIFACTS = {"model": "", "history": "", "params": "", "train": "", "metrics": "test",
             "predictions": "test"}  # fmt: skip

# MLflow 3 sorts experiments into kinds: this one holds trained models, not GenAI traces.
TRAINING = {"mlflow.experimentKind": "custom_model_development"}


class MissingPackage(RuntimeError):
    """MLflow is not installed (the message says what to install)."""


def import_mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise MissingPackage(INSTALL) from None
    return mlflow


@dataclass(frozen=True)
class RunFiles:
    """The files of one finished run (cell x seed)."""

    cell: str
    seed: int
    model: Path
    history: Path
    params: Path
    train: Path
    metrics: Path
    predictions: Path

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in FINGERPRINTED:
            digest.update(Path(getattr(self, name)).read_bytes())
        return digest.hexdigest()


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow params: dotted keys (list items of mappings by their index:
    ``augmentation.0.name``), values as text (JSON for anything but text)."""
    flat: dict[str, str] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            flat.update(flatten({str(index): item for index, item in enumerate(value)}, name + "."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value)
    return flat


def cell_verdicts(summary: str | Path) -> dict[str, str]:
    """Each cell's verdict against the baseline (summary.csv); 'baseline' for the baseline."""
    table = read_table(summary).fillna({"vs_baseline_verdict": ""})  # none: no pairs
    return {
        row["cell"]: "baseline" if row["baseline"] else row["vs_baseline_verdict"]
        for row in table.to_dict("records")
    }


def numbers(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric entries of a result file (booleans and text left out)."""
    return {
        prefix + key: float(value)
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def run_record(study: str, files: RunFiles, verdict: str) -> dict[str, Any]:
    """What MLflow keeps of one run: its name, tags, params and metrics ((key, value, step))."""
    settings = yaml.safe_load(files.params.read_text())
    trained = json.loads(files.train.read_text())
    tested = json.loads(files.metrics.read_text())
    provenance = settings.pop("provenance", {}) or {}
    for key in ("study", "cell", "seed"):  # tags, not settings
        settings.pop(key, None)
    tags = {"study": study, "cell": files.cell, "seed": str(files.seed), "verdict": verdict,
            "status": tested.get("status", trained.get("status", status.OK)),
            **{f"provenance.{k}": v for k, v in flatten(provenance).items()}}  # fmt: skip
    if "reason" in tested:
        tags["reason"] = str(tested["reason"])
    if commit := provenance.get("workflow", {}).get("commit"):
        tags["mlflow.source.git.commit"] = commit
    history = pd.read_csv(files.history)
    metrics = [
        (column, float(value), int(epoch))
        for column in history.columns.drop("epoch")
        for epoch, value in zip(history["epoch"], history[column], strict=True)
    ]
    last = int(history["epoch"].max()) if len(history) else 0
    finals = {**numbers(trained), **numbers(tested, "test_")}
    metrics += [(key, value, last) for key, value in finals.items()]
    return {"name": f"{files.cell} seed {files.seed}", "tags": tags,
            "params": flatten(settings), "metrics": metrics}  # fmt: skip


def study_experiment(client: Any, study: str, artifacts: str | Path | None) -> str:
    """The id of the study's experiment (named after the study), made or restored."""
    experiment = client.get_experiment_by_name(study)
    if experiment is None:
        location = Path(artifacts).resolve().as_uri() if artifacts else None
        return client.create_experiment(study, artifact_location=location,
                                        tags={"study": study, **TRAINING})  # fmt: skip
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    for key, value in TRAINING.items():
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment.experiment_id, key, value)
    return experiment.experiment_id


def logged_runs(client: Any, experiment: str, study: str) -> dict[tuple[str, int], list[Any]]:
    """The study's active MLflow runs by (cell, seed), every page of them."""
    found: dict[tuple[str, int], list[Any]] = {}
    token = None
    while True:
        page = client.search_runs([experiment], filter_string=f"tags.study = '{study}'",
                                  max_results=1000, page_token=token)  # fmt: skip
        for run in page:
            tags = run.data.tags
            if "cell" in tags and tags.get("seed", "").isdigit():
                found.setdefault((tags["cell"], int(tags["seed"])), []).append(run)
        token = page.token
        if not token:
            return found


def log_run(client: Any, experiment: str, study: str, files: RunFiles, verdict: str,
            fingerprint: str) -> str:  # fmt: skip
    """One new MLflow run of ``files``; its id."""
    from mlflow.entities import Metric, Param

    record = run_record(study, files, verdict)
    run = client.create_run(experiment, run_name=record["name"], tags=record["tags"])
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(key, value, now, step) for key, value, step in record["metrics"]],
        params=[Param(key, value) for key, value in record["params"].items()],
    )
    for name, folder in ARTIFACTS.items():
        client.log_artifact(run_id, str(getattr(files, name)), artifact_path=folder or None)
    client.set_tag(run_id, FINGERPRINT, fingerprint)
    ok = record["tags"]["status"] == status.OK
    client.set_terminated(run_id, status="FINISHED" if ok else "FAILED")
    return run_id


def log_study(study: str, runs: Iterable[RunFiles], summary: str | Path, tracking_uri: str,
              artifacts: str | Path | None = None) -> pd.DataFrame:  # fmt: skip
    """Log every run of ``runs`` not yet in MLflow at ``tracking_uri`` (``artifacts``: the
    folder of a new experiment's artifacts; None: the tracking server's default).

    A run already logged with the same files is left alone (its verdict tag follows the
    study's latest summary); one whose files changed (retrained) is deleted and logged anew,
    since MLflow appends metric values and cannot replace an old training's history. Runs
    of cells or seeds no longer in the study are left as they are: they were real runs.
    Returns one row per run: cell, seed, run_id, action (logged, replaced, unchanged)."""
    mlflow = import_mlflow()
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = study_experiment(client, study, artifacts)
    existing = logged_runs(client, experiment, study)
    verdicts = cell_verdicts(summary)
    rows = []
    for files in runs:
        fingerprint = files.fingerprint()
        verdict = verdicts.get(files.cell, "")
        found = existing.get((files.cell, files.seed), [])
        kept = next((r for r in found if r.data.tags.get(FINGERPRINT) == fingerprint), None)
        for stale in found:  # a retrained run's old record, or an incomplete one
            if stale is not kept:
                client.delete_run(stale.info.run_id)
        if kept is not None:
            run_id, action = kept.info.run_id, "unchanged"
            if kept.data.tags.get("verdict") != verdict:  # a new seed elsewhere moved it
                client.set_tag(run_id, "verdict", verdict)
        else:
            run_id = log_run(client, experiment, study, files, verdict, fingerprint)
            action = "replaced" if found else "logged"
        rows.append({"cell": files.cell, "seed": files.seed, "run_id": run_id,
                     "action": action, "experiment_id": experiment})  # fmt: skip
    return pd.DataFrame(rows, columns=["cell", "seed", "run_id", "action", "experiment_id"])
