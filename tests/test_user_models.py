"""A model of the user's own (`model: {name: "file:PATH:FUNCTION", ...}`): its signature
checked when the study is planned, its file an input of the train jobs, its result checked
when it is built."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from conftest import REPO, planned_jobs, run_study, snakemake, tiny_config

from ablate.config import ConfigError, resolve_study
from ablate.train import runtime
from ablate.train.models import build_model

NET = """
import keras
from keras import layers


def build(input_shape, num_classes, width=4, dropout=0.0):
    inputs = keras.Input(shape=input_shape)
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(width, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs)


def anything(input_shape, num_classes, **options):
    return build(input_shape, num_classes)


def misshapen(shape, classes):
    return None


def not_a_model(input_shape, num_classes):
    return "a model, honestly"


def broken(input_shape, num_classes):
    return 1 / 0
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A user's project folder (Snakemake's working directory) with models/net.py."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def study(model, **levels):
    config = tiny_config(design="full", baseline={})
    config["base"]["model"] = model
    config["factors"] = {"variant": {"plain": {}, **levels}}
    return config


def test_a_builder_of_your_own_resolves_with_its_arguments_as_any_model(project):
    own = "file:models/net.py:build"
    resolved = resolve_study(study({"name": own, "width": 8}, wide={"model": {"width": 16}}))
    assert resolved.cells["variant-wide"].settings.model == {"name": own, "width": 16}
    # **options: any argument goes
    resolve_study(study({"name": "file:models/net.py:anything", "depth": 3}))


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"name": "file:models/net.py:build", "widht": 8},
         "config key 'base.model.widht': unknown argument of model 'file:models/net.py:build'."
         " Did you mean 'width'? Accepted: width, dropout, remove."),
        ({"name": "file:models/gone.py:build"},
         "config key 'base.model.name': model file models/gone.py not found (paths are "
         "relative to the working directory, "),
        ({"name": "file:models/net.py:biuld"},
         "config key 'base.model.name': models/net.py has no top-level function 'biuld'. "
         "Did you mean 'build'? Functions there: build, anything, misshapen"),
        ({"name": "file:models/net.py:misshapen"},
         "config key 'base.model.name': models/net.py:misshapen takes (shape, classes); "
         "ablate calls misshapen(input_shape, num_classes, **arguments)"),
        ({"name": "file:models/net.py"},
         "config key 'base.model.name': 'file:models/net.py' names no function: write "
         "file:<file>:<function>"),
    ],
)  # fmt: skip
def test_a_wrong_file_function_or_argument_stops_planning_in_one_line(project, model, message):
    with pytest.raises(ConfigError) as error:
        resolve_study(study(model))
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_a_syntax_error_names_the_file_and_line(project):
    (project / "models" / "net.py").write_text("def build(input_shape, num_classes):\n  return (\n")
    with pytest.raises(ConfigError, match=r"'base\.model\.name': models/net\.py, line \d+: "):
        resolve_study(study({"name": "file:models/net.py:build"}))


def test_planning_imports_neither_the_file_nor_tensorflow(project):
    (project / "models" / "net.py").write_text(
        "raise SystemExit('imported!')\n\ndef build(input_shape, num_classes, width=4):\n    pass\n"
    )
    config = yaml.safe_dump(study({"name": "file:models/net.py:build"}))
    code = (
        "import sys, yaml; from ablate.config import resolve_study; "
        f"resolve_study(yaml.safe_load({config!r})); print('tensorflow' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_builder_is_called_with_the_shape_classes_and_arguments(project):
    runtime.configure(seed=0)
    model = build_model({"name": "file:models/net.py:build", "width": 6}, (16, 16, 1), 7)
    assert model.layers[2].filters == 6
    images = np.random.default_rng(0).uniform(0, 255, size=(3, 16, 16, 1)).astype("float32")
    assert model.predict(images, verbose=0).shape == (3, 7)


def test_a_builder_that_fails_or_returns_no_model_names_file_function_and_result(project):
    runtime.configure(seed=0)
    with pytest.raises(TypeError, match=r"models/net\.py:not_a_model returned str "
                       r"'a model, honestly', not a keras\.Model"):  # fmt: skip
        build_model({"name": "file:models/net.py:not_a_model"}, (16, 16, 1), 7)
    with pytest.raises(RuntimeError, match=r"models/net\.py:broken\(\(16, 16, 1\), 7\) .*"
                       r"failed: ZeroDivisionError"):  # fmt: skip
        build_model({"name": "file:models/net.py:broken"}, (16, 16, 1), 7)


def test_a_study_of_your_own_model_runs_and_editing_the_file_retrains_its_cells(tmp_path):
    """A tiny study whose 'own' level uses a model file of its own, beside the built-in
    baseline: it runs to its end; each run of the own cell records the file's sha256;
    after an edit of the file exactly the own cell's runs are trained again."""
    (tmp_path / "models").mkdir()
    net = tmp_path / "models" / "net.py"
    net.write_text(NET)
    config = tiny_config(design="full", baseline={"model": "builtin"}, seeds=[1])
    config["factors"] = {
        "model": {"builtin": {}, "own": {"model": {"name": "file:models/net.py:build"}}}
    }
    run_study(tmp_path, config)
    run = tmp_path / "results" / "tiny" / "cells" / "model-own" / "seed-1"
    params = yaml.safe_load((run / "params.yaml").read_text())
    assert params["provenance"]["files"] == {
        "models/net.py": hashlib.sha256(net.read_bytes()).hexdigest()
    }
    time.sleep(1)  # a later modification time than the outputs, on any file system
    net.write_text(NET.replace("width=4", "width=6"))
    jobs = planned_jobs(snakemake(tmp_path, "--dry-run"))
    trains = [fields for rule, fields in jobs if rule == "train"]
    assert [fields["cell"] for fields in trains] == ["model-own"]
    assert "models/net.py" in trains[0]["reason"]  # the config is unchanged: the file


def test_the_example_study_plans_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(REPO)  # where its README command runs
    config = yaml.safe_load((REPO / "studies" / "own-model" / "config.yaml").read_text())
    resolved = resolve_study(config, REPO)
    assert len(resolved.cells) == 2
