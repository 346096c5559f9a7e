"""Registries check arguments at plan time from static tables; the tables match Keras."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ablate
from ablate.data.sources import check_source
from ablate.train.augmentation import AUGMENTATIONS, MIXINGS, augmentation_class
from ablate.train.models import MODELS, check_model_spec
from ablate.train.optimizers import OPTIMIZERS

# Arguments of keras.layers.Layer / keras.optimizers.Optimizer that every subclass passes
# on and that no config needs (an optimizer's `name` would clash with the entry's name).
GENERIC = {"self", "name", "dtype", "trainable", "autocast", "activity_regularizer", "kwargs"}


def keras_arguments(cls) -> tuple[str, ...]:
    parameters = inspect.signature(cls.__init__).parameters
    return tuple(name for name in parameters if name not in GENERIC)


@pytest.mark.parametrize(
    ("registry", "module"),
    [(AUGMENTATIONS, "layers"), (MIXINGS, "layers"), (OPTIMIZERS, "optimizers")],
    ids=["augmentation", "mixing", "optimizer"],
)
def test_static_argument_tables_match_the_installed_keras(registry, module):
    import keras

    for name in registry.names():
        if registry is AUGMENTATIONS:  # Keras' layers, and ablate's own (random_affine)
            cls = augmentation_class(name)
        else:
            cls = getattr(getattr(keras, module), registry.get(name))
        assert registry._arguments[name] == keras_arguments(cls), f"{registry.kind} '{name}'"


@pytest.mark.parametrize(
    ("registry", "key", "spec", "message"),
    [
        (
            OPTIMIZERS,
            "base.optimizer",
            {"name": "adam", "learning_rate": 0.01, "beta_one": 0.9},
            "config key 'base.optimizer.beta_one': unknown argument of optimizer 'adam'. "
            "Did you mean 'beta_1'? Accepted: learning_rate, beta_1, beta_2, epsilon, amsgrad, "
            "weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum, "
            "ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps.",
        ),
        (
            AUGMENTATIONS,
            "base.augmentation[1]",
            {"name": "random_zoom", "hieght_factor": 0.1},
            "config key 'base.augmentation[1].hieght_factor': unknown argument of augmentation "
            "'random_zoom'. Did you mean 'height_factor'? Accepted: height_factor, "
            "width_factor, fill_mode, interpolation, fill_value, data_format.",
        ),
        (
            MIXINGS,
            "factors.mixing.cutmix.mixing",
            {"name": "cutmix", "factr": 0.5},
            "config key 'factors.mixing.cutmix.mixing.factr': unknown argument of mixing 'cutmix'. "
            "Did you mean 'factor'? Accepted: factor, data_format, probability.",
        ),
        (
            MODELS,
            "base.model",
            {"name": "cifar_cnn", "head_dropuot": 0.5},
            "config key 'base.model.head_dropuot': unknown argument of model 'cifar_cnn'. "
            "Did you mean 'head_dropout'? Accepted: filters, dense_units, dropout, "
            "head_dropout, batch_norm, l2, initializer, remove.",
        ),
        (
            MODELS,
            "factors.model.transfer.model",
            {"name": "keras_app:MobileNetV2", "fine_tune": "block_16"},
            "config key 'factors.model.transfer.model.fine_tune': unknown argument of model "
            "'keras_app:MobileNetV2'. Did you mean 'fine_tune_from'? Accepted: weights, "
            "fine_tune_from, head_dropout, remove.",
        ),
    ],
    ids=["optimizer", "augmentation", "mixing", "model", "keras_app"],
)
def test_a_misspelt_argument_is_named_with_its_key_and_a_suggestion(registry, key, spec, message):
    with pytest.raises(ValueError) as error:
        registry.check(spec, key)
    assert str(error.value) == message


def test_a_misspelt_name_is_named_with_its_key_and_a_suggestion():
    with pytest.raises(ValueError) as error:
        OPTIMIZERS.check({"name": "adma"}, "factors.optimizer.fast.optimizer")
    assert str(error.value) == (
        "config key 'factors.optimizer.fast.optimizer.name': unknown optimizer 'adma'. "
        "Did you mean 'adam'? Valid names: adam, adamw, rmsprop, sgd."
    )
    with pytest.raises(
        ValueError, match=r"^config key 'base.augmentation\[1\].name': .*'random_flip'"
    ):
        AUGMENTATIONS.check({"name": "random_flipp"}, "base.augmentation[1]")
    with pytest.raises(
        ValueError, match=r"'model.name': unknown model 'resnet50'.*keras_app:<name>"
    ):
        MODELS.check({"name": "resnet50"}, "model")
    with pytest.raises(ValueError, match=r"'m.name': unknown keras.applications model 'VGG61'"):
        MODELS.check({"name": "keras_app:VGG61"}, "m")


def test_valid_specs_and_ablates_own_arguments_pass():
    AUGMENTATIONS.check({"name": "random_rotation", "factor": 0.1}, "a")
    MIXINGS.check({"name": "mixup", "alpha": 0.2, "probability": 0.5}, "m")
    OPTIMIZERS.check({"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}, "o")
    MODELS.check({"name": "resnet20", "first_layer": "7x7_maxpool"}, "m")
    MODELS.check({"name": "keras_app:ResNet50", "weights": "none", "head_dropout": 0.2}, "m")
    check_model_spec({"name": "small_convnet", "dropout": 0.5})


@pytest.mark.parametrize("registry", [AUGMENTATIONS, MIXINGS], ids=["augmentation", "mixing"])
def test_a_seed_in_the_config_is_refused_because_ablate_sets_it(registry):
    name = registry.names()[0]
    message = (
        rf"^config key 'k.seed': {registry.kind} '{name}' takes no 'seed' from the config: "
        r"ablate derives it from each run's seed"
    )
    with pytest.raises(ValueError, match=message):
        registry.check({"name": name, "seed": 1}, "k")


def test_missing_dir_source_and_unknown_kinds_fail_at_plan_time(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "file.txt").write_text("x")
    check_source({"source": "dir:images"}, workdir=tmp_path)
    check_source({"source": f"dir:{tmp_path / 'images'}"})
    check_source({"source": "builtin:digits"})
    check_source({"source": "url:https://example.org/a.zip"})
    with pytest.raises(ValueError) as error:
        check_source({"source": "dir:imgs"}, "dataset.source", workdir=tmp_path)
    assert str(error.value) == (
        f"config key 'dataset.source': 'dir:imgs': {tmp_path / 'imgs'} is not a folder "
        "(nothing exists there)."
    )
    with pytest.raises(ValueError, match=r"file.txt is not a folder \(it is a file\)"):
        check_source({"source": "dir:file.txt"}, workdir=tmp_path)
    with pytest.raises(ValueError) as error:
        check_source({"source": "foo:bar"})
    assert str(error.value) == (
        "config key 'dataset.source': unknown data source kind 'foo'. "
        "Valid names: builtin, dir, tfds, url."
    )
    with pytest.raises(ValueError, match=r"'dataset.source': unknown builtin .*'digitz'. Did you"):
        check_source({"source": "builtin:digitz"})
    with pytest.raises(
        ValueError, match=r"'dataset.source': 'digits' must look like '<kind>:<what>'"
    ):
        check_source({"source": "digits"})


def test_checking_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from ablate.train.augmentation import AUGMENTATIONS, MIXINGS\n"
        "from ablate.train.models import MODELS\n"
        "from ablate.train.optimizers import OPTIMIZERS\n"
        "from ablate.data.sources import check_source\n"
        "AUGMENTATIONS.check({'name': 'random_zoom', 'height_factor': 0.1}, 'a')\n"
        "MIXINGS.check({'name': 'cutmix', 'probability': 1.0}, 'm')\n"
        "OPTIMIZERS.check({'name': 'adam', 'learning_rate': 0.1}, 'o')\n"
        "MODELS.check({'name': 'keras_app:ResNet50', 'weights': 'none'}, 'm')\n"
        "MODELS.check({'name': 'small_convnet', 'dropout': 0.1}, 'm')\n"
        "check_source({'source': 'builtin:digits'})\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
    )
    scripts = Path(ablate.__file__).parents[1]  # this checkout's package, not an installed one
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(scripts)}
    )
