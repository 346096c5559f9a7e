"""Components removed by name (model.remove, ablate.train.removal) and the leave-one-out
design that writes one cell per removed component: real Keras models, and a real snakemake
run of a tiny leave-one-out study."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from conftest import REPO, snakemake, tiny_config, write_config

from ablate import paths
from ablate.config import ConfigError, resolve_study
from ablate.design import check_design_keys, leave_one_out
from ablate.train.models import build_model
from ablate.train.removal import remove_layers

IMAGES = np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 1)).astype("float32")
SMALL = {"name": "small_convnet", "filters": [4, 8], "dense_units": 8}


def predict(model: keras.Model, images: np.ndarray = IMAGES) -> np.ndarray:
    return np.asarray(model.predict(images, verbose=0))


def names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers]


def copy_weights(into: keras.Model, source: keras.Model) -> None:
    """Give ``into``'s layers the weights of ``source``'s layers of the same names."""
    for layer in into.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def test_removed_dropout_layers_leave_the_model_built_without_dropout():
    model = build_model({**SMALL, "dropout": 0.3, "remove": ["dropout_"]}, (16, 16, 1), 3)
    plain = build_model({**SMALL, "dropout": 0.0}, (16, 16, 1), 3)
    assert names(model) == names(plain)
    copy_weights(plain, model)
    np.testing.assert_array_equal(predict(model), predict(plain))


def test_removed_batch_normalisation_layers_are_bypassed():
    whole = build_model({**SMALL, "batch_norm": True}, (16, 16, 1), 3)
    removed = remove_layers(whole, ["bn"])  # a prefix: bn1 and bn2
    assert [name for name in names(whole) if not name.startswith("bn")] == names(removed)
    # the same layers (and weights) in a chain without the batch normalisation
    expected = IMAGES
    for layer in whole.layers[1:]:
        if not layer.name.startswith("bn"):
            expected = layer(expected)
    np.testing.assert_allclose(predict(removed), np.asarray(expected), rtol=1e-6, atol=1e-7)


def test_a_removed_residual_block_becomes_its_shortcut():
    spec = {"name": "resnet20", "stem_filters": 8, "stage_filters": [8]}
    whole = build_model(spec, (16, 16, 3), 3)
    removed = build_model({**spec, "remove": ["stage1_identity_block"]}, (16, 16, 3), 3)
    copy_weights(removed, whole)
    block = [layer for layer in whole.layers if layer.name.startswith("stage1_identity_block")]
    assert len(block) == 10 and not any(n.startswith("stage1_identity") for n in names(removed))
    assert removed.count_params() == whole.count_params() - sum(b.count_params() for b in block)
    # what the block was given goes on to the stage's pool, the head unchanged
    images = np.random.default_rng(1).uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    trunk = keras.Model(whole.inputs, whole.get_layer("stage1_conv_block_out").output)
    expected = trunk(images)
    for name in ("stage1_pool", "pool", "classes"):
        expected = whole.get_layer(name)(expected)
    np.testing.assert_allclose(predict(removed, images), np.asarray(expected), rtol=1e-5)


def test_a_removed_squeeze_excitation_branch_passes_the_features_on_unscaled():
    """Removing a multiplicative branch with its Multiply means a gate of 1: the model
    is the one built without the branch."""
    location = REPO / "studies" / "own-model" / "digits_net.py"
    spec = importlib.util.spec_from_file_location("digits_net", location)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    gated = module.build((16, 16, 1), 3, width=4, squeeze_excitation=True)
    removed = remove_layers(gated, ["block1_se", "block2_se"])
    plain = module.build((16, 16, 1), 3, width=4, squeeze_excitation=False)
    assert names(removed) == names(plain)
    copy_weights(plain, gated)
    np.testing.assert_array_equal(predict(removed), predict(plain))
    # the gate without the Multiply that applies it cannot be bypassed
    with pytest.raises(ValueError) as error:
        remove_layers(gated, ["block1_se_gate"])
    assert str(error.value).startswith(
        "model.remove: cannot bypass 'block1_se_gate': output (None, 4), inputs (None, 1) "
        "from 'block1_se_reduce'; no input has the output's shape to take its place."
    )


def test_a_layer_inside_a_keras_application_is_removed_there():
    spec = {"name": "keras_app:MobileNetV2", "weights": "none"}
    whole = build_model(spec, (32, 32, 3), 4)
    removed = build_model({**spec, "remove": ["block_16_project_BN"]}, (32, 32, 3), 4)
    base = whole.get_layer("mobilenetv2_1.00_32")
    inner = removed.get_layer("mobilenetv2_1.00_32")
    dropped = base.get_layer("block_16_project_BN")
    assert "block_16_project_BN" not in names(inner)
    assert len(names(inner)) == len(names(base)) - 1
    assert removed.count_params() == whole.count_params() - dropped.count_params()
    assert predict(removed, np.zeros((1, 32, 32, 3))).shape == (1, 4)


def test_a_sequential_model_loses_its_layers_too():
    from keras import layers

    chain = [layers.Conv2D(4, 3, padding="same", name="conv"),
             layers.BatchNormalization(name="bn"), layers.Dropout(0.2, name="drop"),
             layers.Flatten(name="flatten"), layers.Dense(3, name="classes")]  # fmt: skip
    model = keras.Sequential([keras.Input((16, 16, 1)), *chain], name="chain")
    removed = remove_layers(model, ["bn", "drop"])
    assert names(removed)[1:] == ["conv", "flatten", "classes"]
    expected = chain[4](chain[3](chain[0](IMAGES)))
    np.testing.assert_allclose(predict(removed), np.asarray(expected), rtol=1e-6)
    unbuilt = keras.Sequential([layers.Dense(3, name="classes")], name="unbuilt")
    with pytest.raises(ValueError, match=r"^model\.remove: Sequential model 'unbuilt' has no"):
        remove_layers(unbuilt, ["classes"])


@pytest.mark.parametrize(
    ("spec", "entries", "message"),
    [
        (SMALL, ["pool1"],
         "model.remove: cannot bypass 'pool1': output (None, 8, 8, 4), inputs (None, 16, 16, "
         "4) from 'relu1'; no input has the output's shape to take its place. Remove a part "
         "whose output has the shape of its input"),
        ({"name": "resnet20", "stem_filters": 8, "stage_filters": [8]},
         ["stage1_identity_block_add"],
         "model.remove: cannot bypass 'stage1_identity_block_add': output (None, 8, 8, 8), "
         "inputs (None, 8, 8, 8) from 'stage1_identity_block_c_bn'; (None, 8, 8, 8) from "
         "'stage1_conv_block_out'; two inputs have the output's shape"),
        (SMALL, ["conv3"],
         "model.remove: no layer of model 'small_convnet' is named 'conv3' or starts with "
         "it. Did you mean 'conv1'? Its layers: image, rescale, conv1, relu1, pool1,"),
    ],
    ids=["shape-changes", "ambiguous-add", "no-such-layer"],
)  # fmt: skip
def test_a_removal_that_cannot_be_done_names_the_layers_and_their_shapes(spec, entries, message):
    model = build_model(spec, (16, 16, 3 if spec["name"] == "resnet20" else 1), 3)
    with pytest.raises(ValueError) as error:
        remove_layers(model, entries)
    assert str(error.value).startswith(message)


def test_a_model_with_layers_removed_is_saved_and_loaded_as_it_is(tmp_path):
    model = build_model({**SMALL, "batch_norm": True, "remove": ["bn2"]}, (16, 16, 1), 3)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert names(loaded) == names(model) and "bn2" not in names(loaded)
    np.testing.assert_array_equal(predict(loaded), predict(model))


# -- the leave-one-out design (planning: no TensorFlow needed) --


def test_leave_one_out_adds_a_cell_per_component_beside_the_whole_model():
    config = tiny_config(design={"leave_one_out": ["bn1", "Block2_SE_"]}, factors={})
    config["base"]["model"]["remove"] = ["dropout_hidden"]
    study = resolve_study(config, REPO)
    assert list(study.cells) == ["remove-none", "remove-bn1", "remove-block2_se"]
    assert study.baseline == "remove-none"
    removes = [cell.settings.model.get("remove") for cell in study.cells.values()]
    assert removes == [["dropout_hidden"], ["dropout_hidden", "bn1"],
                       ["dropout_hidden", "Block2_SE_"]]  # fmt: skip
    # with other factors: one at a time, each beside the same whole model
    config = tiny_config(design={"leave_one_out": ["bn1"]})
    assert list(resolve_study(config, REPO).cells) == [
        "augmentation-none__regularization-none__remove-none",
        "augmentation-geometric__regularization-none__remove-none",
        "augmentation-none__regularization-dropout__remove-none",
        "augmentation-none__regularization-none__remove-bn1",
    ]


def test_the_leave_one_out_example_plans_with_a_model_of_your_own():
    config = yaml.safe_load((REPO / "studies" / "own-model" / "leave-one-out.yaml").read_text())
    study = resolve_study(config, REPO)
    assert list(study.cells) == ["remove-none", "remove-block1_se", "remove-block2_se"]
    assert study.cells["remove-block2_se"].settings.model["remove"] == ["block2_se"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.update(design={"leave_one_out": ["conv", "CONV"]}),
         "config key 'design.leave_one_out': 'CONV' would be level 'conv' of factor 'remove', "
         "which another entry (or the whole model, 'none') is already; name the component "
         "differently."),
        (lambda c: c.update(design={"leave_one_out": ["bn1"]},
                            factors={"remove": {"a": {}, "b": {}}}),
         "config key 'factors.remove': design leave_one_out adds a factor 'remove' itself; "
         "rename this factor."),
        (lambda c: c.update(design={"leave_one_out": []}),
         "config key 'design.leave_one_out': [] should be non-empty."),
        (lambda c: c.update(design={"leave_out": ["bn1"]}),
         "config key 'design': a mapping is {leave_one_out: [component, ...]}, not "
         "{leave_out}."),
        (lambda c: c.update(design="one-at-time"),
         "config key 'design': unknown design 'one-at-time'. Did you mean 'one-at-a-time'? Use "
         "full, one-at-a-time, list, fractional, screening or {leave_one_out: [component, "
         "...]}."),
        (lambda c: c["base"]["model"].update(remove="bn1"),
         "config key 'base.model.remove': 'bn1' is not of type 'array'."),
    ],
    ids=["same-level", "factor-taken", "empty", "other-key", "misspelt", "remove-not-a-list"],
)  # fmt: skip
def test_a_leave_one_out_design_that_cannot_be_is_named(change, message):
    config = tiny_config()
    change(config)
    with pytest.raises(ConfigError) as error:
        resolve_study(config, REPO)
    assert str(error.value) == message


def test_other_designs_are_left_as_they_are():
    config = tiny_config()
    assert leave_one_out(config) == config
    check_design_keys({"design": {"leave_one_out": ["a"]}})  # accepted


# -- a real leave-one-out study --


@pytest.fixture(scope="module")
def leave_one_out_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny study with batch normalisation, leaving out bn1 (possible) and pool1 (not:
    its output is half its input's size), one seed, run with --keep-going."""
    config = tiny_config(study="loo", factors={}, seeds=[1],
                         design={"leave_one_out": ["bn1", "pool1"]})  # fmt: skip
    config["base"]["model"]["batch_norm"] = True
    workdir = tmp_path_factory.mktemp("leave-one-out")
    write_config(workdir, copy.deepcopy(config))
    result = snakemake(workdir, "--cores", "2", "--resources", "gpu=1", "--keep-going",
                       check=False)  # fmt: skip
    return workdir, result.stdout + result.stderr


def test_a_leave_one_out_study_trains_the_removals_and_stops_the_impossible_one(
    leave_one_out_run,
):
    workdir, output = leave_one_out_run
    study = workdir / "results" / "loo"
    for cell in ("remove-none", "remove-bn1"):
        assert paths.has_result("loo", cell, 1, workdir), (cell, output[-3000:])
    model = keras.saving.load_model(paths.run_dir("loo", "remove-bn1", 1, workdir) / "model.keras")
    assert "bn1" not in names(model) and "bn2" in names(model)
    params = yaml.safe_load(
        (paths.run_dir("loo", "remove-bn1", 1, workdir) / "params.yaml").read_text()
    )
    assert params["model"]["remove"] == ["bn1"]
    # the impossible removal fails its own train jobs, saying why, and nothing else
    log = (study / "logs" / "train" / "remove-pool1" / "seed-1.log").read_text()
    assert (
        "model.remove: cannot bypass 'pool1': output (None, 8, 8, 4), inputs (None, 16, 16, 4)"
        in log
    )
    assert not (paths.run_dir("loo", "remove-pool1", 1, workdir) / "model.keras").exists()
    # the finished cells are compared with the whole model as usual
    summary = (study / "summary.csv").read_text()
    assert "remove-bn1" in summary and "remove-none" in summary
