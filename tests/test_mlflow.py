"""`snakemake mlflow` against a real MLflow tracking server that the tests start on localhost
and stop: a tiny study (two cells, one seed) logged, read back with MLflow's own client,
logged again (nothing added), grown by a seed and a changed cell (only their runs change),
shown in MLflow's UI in headless Chromium, and without the mlflow package (one line)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from browser import chromium, wait_for
from conftest import run_study, snakemake, snakemake_command, tiny_config

from ablate import paths

STUDY = "tiny"
NONE, DROPOUT = "regularization-none", "regularization-dropout"
INSTALL = "MLflow is not installed: pip install -e '.[mlflow]' (or pip install 'mlflow>=3.18,<4')"


def study_config(seeds: list[int], dropout: float) -> dict[str, Any]:
    config = tiny_config(seeds=seeds)
    config["factors"] = {"regularization": {"none": {}, "dropout": {"model": {"dropout": dropout}}}}
    return config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`mlflow server` on a free localhost port, with its own SQLite store and artifacts."""

    def __init__(self, root: Path) -> None:
        self.uri = f"http://127.0.0.1:{free_port()}"
        self.log = root / "server.log"
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                   "--port", self.uri.rsplit(":", 1)[1], "--workers", "1",
                   "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                   "--artifacts-destination", str(root / "artifacts")]  # fmt: skip
        # A session of its own: stopping it stops its web workers too.
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip

    def wait(self, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"mlflow server ended:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self.uri
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer within {timeout} s")
            time.sleep(0.5)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:  # uvicorn waits for idle keep-alive connections: not for long
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(tmp_path_factory.mktemp("mlflow-server"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def logged(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny study run (while the server starts), then logged to the server."""
    workdir = run_study(tmp_path_factory.mktemp("mlflow-study"), study_config([1], 0.3))
    uri = server.wait()
    log_to_mlflow(workdir, uri)
    return workdir, uri


def log_to_mlflow(workdir: Path, uri: str | None, *args: str) -> pd.DataFrame:
    """`snakemake mlflow` (to ``uri``, or the study's own store); its logged.csv."""
    config = ["--config", f"mlflow={uri}"] if uri else []
    snakemake(workdir, "--cores", "1", "mlflow", *config, *args)
    return pd.read_csv(workdir / paths.fill(paths.MLFLOW_LOGGED, study=STUDY))


def client(uri: str) -> Any:
    import mlflow

    return mlflow.MlflowClient(tracking_uri=uri)


def study_runs(uri: str) -> dict[tuple[str, int], Any]:
    """The study's active runs by (cell, seed), failing on two runs of one cell x seed."""
    experiment = client(uri).get_experiment_by_name(STUDY)
    runs = client(uri).search_runs([experiment.experiment_id])
    found = {(run.data.tags["cell"], int(run.data.tags["seed"])): run for run in runs}
    assert len(found) == len(runs), "two MLflow runs of one cell x seed"
    return found


def run_file(workdir: Path, pattern: str, cell: str, seed: int) -> Path:
    return workdir / paths.fill(pattern, study=STUDY, cell=cell, seed=seed)


def test_every_run_is_logged_with_its_settings_epochs_results_and_files(logged, tmp_path):
    workdir, uri = logged
    runs = study_runs(uri)
    assert sorted(runs) == [(DROPOUT, 1), (NONE, 1)]
    summary = pd.read_csv(workdir / paths.fill(paths.SUMMARY, study=STUDY)).set_index("cell")
    assert summary.loc[DROPOUT, "vs_baseline_verdict"] == "undecided"  # one seed
    ids = pd.read_csv(workdir / paths.fill(paths.MLFLOW_LOGGED, study=STUDY))
    assert dict(zip(ids["cell"], ids["run_id"], strict=True)) == {
        cell: run.info.run_id for (cell, _), run in runs.items()
    }
    for (cell, seed), run in runs.items():
        data = run.data
        assert run.info.run_name == f"{cell} seed {seed}"
        assert run.info.status == "FINISHED"
        assert {key: data.tags[key] for key in ("study", "cell", "seed", "verdict")} == {
            "study": STUDY, "cell": cell, "seed": "1",
            "verdict": "baseline" if cell == NONE else "undecided",
        }  # fmt: skip
        # the cell's resolved settings, flattened
        assert data.params["model.dropout"] == ("0.3" if cell == DROPOUT else "0.0")
        assert data.params["epochs"] == "2"
        assert data.params["optimizer.name"] == "adam"
        assert data.params["dataset.image_size"] == "[16, 16]"
        assert not any(key.startswith("provenance") for key in data.params)
        # every epoch's metrics at their epoch, as the run's history.csv has them
        history = pd.read_csv(run_file(workdir, paths.HISTORY, cell, seed))
        for column in history.columns.drop("epoch"):
            logged_history = client(uri).get_metric_history(run.info.run_id, column)
            assert [m.step for m in logged_history] == history["epoch"].tolist(), column
            assert [m.value for m in logged_history] == pytest.approx(history[column]), column
        tested = json.loads(run_file(workdir, paths.TEST_METRICS, cell, seed).read_text())
        for name in ("accuracy", "loss", "macro_f1"):
            assert data.metrics[f"test_{name}"] == pytest.approx(tested[name])
        trained = json.loads(run_file(workdir, paths.TRAIN_SUMMARY, cell, seed).read_text())
        assert data.metrics["best_epoch"] == trained["best_epoch"]
        # the model, history and predictions, byte for byte
        for pattern, artifact in ((paths.MODEL, "model.keras"), (paths.HISTORY, "history.csv"),
                                  (paths.PREDICTIONS, "test/predictions.csv")):  # fmt: skip
            local = client(uri).download_artifacts(run.info.run_id, artifact, str(tmp_path / cell))
            assert Path(local).read_bytes() == run_file(workdir, pattern, cell, seed).read_bytes()


def test_logging_again_adds_nothing(logged):
    workdir, uri = logged
    before = {key: run.info.run_id for key, run in study_runs(uri).items()}
    again = log_to_mlflow(workdir, uri, "--forcerun", "mlflow")  # found again by its tags
    assert set(again["action"]) == {"unchanged"}
    assert {key: run.info.run_id for key, run in study_runs(uri).items()} == before
    from mlflow.entities import ViewType

    experiment = client(uri).get_experiment_by_name(STUDY).experiment_id
    assert len(client(uri).search_runs([experiment], run_view_type=ViewType.ALL)) == 2


def test_mlflow_ui_shows_the_study_and_its_runs(logged):
    _, uri = logged
    experiment = client(uri).get_experiment_by_name(STUDY).experiment_id
    with chromium() as driver:
        driver.get(f"{uri}/#/experiments/{experiment}?workflowType=machine_learning")

        def page() -> str:
            return driver.find_element("tag name", "body").text

        wait_for(lambda: f"{NONE} seed 1" in page(), timeout=60)
        body = page()
    assert f"{DROPOUT} seed 1" in body and STUDY in body


def test_without_mlflow_the_step_fails_saying_what_to_install(logged, tmp_path):
    workdir, uri = logged
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text("import sys\n\nsys.modules['mlflow'] = None\n")
    environment = {**os.environ, "PYTHONPATH": str(hooks)}
    command = snakemake_command(workdir, "--cores", "1", "mlflow", "--forcerun", "mlflow",
                                "--config", f"mlflow={uri}")  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode != 0
    assert f"ablate: {INSTALL}" in done.stderr.splitlines()  # one line of its own
    assert INSTALL in (workdir / paths.fill(paths.log("mlflow"), study=STUDY)).read_text()


def test_by_default_a_study_keeps_its_own_store(logged, tmp_path):
    workdir, _ = logged
    log_to_mlflow(workdir, None)
    store = workdir / paths.fill(paths.MLFLOW_STORE, study=STUDY)
    runs = study_runs(f"sqlite:///{store}")
    assert sorted(runs) == [(DROPOUT, 1), (NONE, 1)]
    run = runs[(NONE, 1)]
    artifacts = workdir / paths.fill(paths.MLFLOW_ARTIFACTS, study=STUDY)
    assert Path(run.info.artifact_uri.removeprefix("file://")).is_relative_to(artifacts)
    local = client(f"sqlite:///{store}").download_artifacts(
        run.info.run_id, "model.keras", str(tmp_path)
    )
    assert Path(local).read_bytes() == run_file(workdir, paths.MODEL, NONE, 1).read_bytes()


def test_a_new_seed_or_a_changed_cell_updates_only_their_runs(logged):
    workdir, uri = logged
    before = study_runs(uri)
    run_study(workdir, study_config([1, 2], 0.5))  # seed 2 everywhere; dropout retrained
    actions = log_to_mlflow(workdir, uri).set_index(["cell", "seed"])["action"].to_dict()
    assert actions == {(NONE, 1): "unchanged", (DROPOUT, 1): "replaced",
                       (NONE, 2): "logged", (DROPOUT, 2): "logged"}  # fmt: skip
    after = study_runs(uri)
    assert sorted(after) == sorted(actions)
    assert after[(NONE, 1)].info.run_id == before[(NONE, 1)].info.run_id
    assert after[(DROPOUT, 1)].info.run_id != before[(DROPOUT, 1)].info.run_id
    assert after[(DROPOUT, 1)].data.params["model.dropout"] == "0.5"
    old = client(uri).get_run(before[(DROPOUT, 1)].info.run_id)
    assert old.info.lifecycle_stage == "deleted"
    summary = pd.read_csv(workdir / paths.fill(paths.SUMMARY, study=STUDY)).set_index("cell")
    verdict = summary.loc[DROPOUT, "vs_baseline_verdict"]
    assert {run.data.tags["verdict"] for (cell, _), run in after.items() if cell == DROPOUT} == {
        verdict
    }
    params = yaml.safe_load(run_file(workdir, paths.PARAMS, NONE, 2).read_text())
    assert after[(NONE, 2)].data.params["model.dropout"] == str(params["model"]["dropout"])
