import numpy as np
import pytest

from ablate.train import runtime
from ablate.train.augmentation import AUGMENTATIONS, build_augmentation
from ablate.train.models import MODELS, build_model, check_model_spec
from ablate.train.optimizers import OPTIMIZERS, build_optimizer

runtime.configure(seed=0)
CONSTANT = {"name": "constant", "alpha": 0.0, "every_epochs": 10, "factor": 0.1}


@pytest.mark.parametrize("name", MODELS.names())
@pytest.mark.parametrize("shape", [(16, 16, 1), (32, 32, 3)])
def test_every_registered_model_classifies_random_images(name, shape):
    model = build_model({"name": name}, shape, num_classes=7)
    images = np.random.default_rng(0).uniform(0, 255, size=(3, *shape)).astype("float32")
    probabilities = model.predict(images, verbose=0)
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def layer_kinds(model):
    return [type(layer).__name__ for layer in model.layers]


def test_small_convnet_options_change_the_architecture():
    plain = build_model({"name": "small_convnet", "filters": [8, 16]}, (16, 16, 1), 10)
    regularised = build_model(
        {"name": "small_convnet", "filters": [8, 16], "dropout": 0.5, "batch_norm": True},
        (16, 16, 1),
        10,
    )
    assert "Dropout" not in layer_kinds(plain) and "BatchNormalization" not in layer_kinds(plain)
    assert layer_kinds(regularised).count("Dropout") == 2
    assert layer_kinds(regularised).count("BatchNormalization") == 2
    assert layer_kinds(plain).count("Conv2D") == 2
    # conv1 3*3*1*8+8, conv2 3*3*8*16+16, hidden (4*4*16)*128+128, output 128*10+10
    assert plain.count_params() == 80 + 1168 + 32896 + 1290


def test_small_convnet_builds_s2s_network():
    """S2 (Keras' cats-vs-dogs convnet at 180x180) reports 991,041 parameters with a
    one-unit sigmoid output; ablate's two-unit softmax adds one more 12,544 + 1 row."""
    s2 = {"name": "small_convnet", "filters": [32, 64, 128, 256, 256], "padding": "valid",
          "pool_last": False, "dense_units": 0}  # fmt: skip
    model = build_model(s2, (180, 180, 3), 2)
    assert model.count_params() == 991_041 + 12_545
    assert layer_kinds(model).count("MaxPooling2D") == 4 and "Dropout" not in layer_kinds(model)
    with_dropout = build_model({**s2, "dropout": 0.5}, (180, 180, 3), 2)
    assert layer_kinds(with_dropout).count("Dropout") == 1  # before the last Dense only


def test_unknown_model_name_and_argument_are_explained():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*Valid names: .*small_convnet"):
        check_model_spec({"name": "resnet"})
    with pytest.raises(
        ValueError,
        match=r"^config key 'model.dropuot': unknown argument of model 'small_convnet'\. "
        r"Did you mean 'dropout'\? Accepted: filters, .*dropout",
    ):
        build_model({"name": "small_convnet", "dropuot": 0.1}, (16, 16, 1), 2)


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_every_augmentation_keeps_the_batch_shape(name):
    options = {  # layers whose defaults would leave images unchanged get an argument
        "random_rotation": {"factor": 0.1},
        "random_affine": {"rotation_factor": 0.1},
        "random_zoom": {"height_factor": 0.1},
        "random_translation": {"height_factor": 0.1, "width_factor": 0.1},
        "random_shear": {"x_factor": 0.3},
        "random_contrast": {"factor": 0.2},
        "random_brightness": {"factor": 0.2},
        "random_hue": {"factor": 0.3},
        "random_saturation": {"factor": 0.3},
        "random_sharpness": {"factor": 0.5},
        "random_posterization": {"factor": (1, 4)},
        "random_color_degeneration": {"factor": 0.5},
        "random_color_jitter": {"brightness_factor": 0.3},
        "random_grayscale": {"factor": 1.0},
        "solarization": {"threshold_factor": 0.5},
    }.get(name, {})
    augmentation = build_augmentation([{"name": name, **options}], seed=1)
    images = np.random.default_rng(0).uniform(0, 255, size=(16, 16, 16, 3)).astype("float32")
    augmented = np.asarray(augmentation(images, training=True))
    assert augmented.shape == images.shape
    assert not np.allclose(augmented, images)  # it really changes the images


def test_no_augmentation_builds_nothing_and_bad_arguments_are_named():
    assert build_augmentation([], seed=1) is None
    with pytest.raises(ValueError, match=r"config key 'augmentation\[0\].zoom'.*'random_zoom'"):
        build_augmentation([{"name": "random_zoom", "zoom": 0.1}], seed=1)
    # Values are Keras' to check, with the entry named.
    with pytest.raises(ValueError, match=r"augmentation\[0\] 'random_zoom'"):
        build_augmentation([{"name": "random_zoom", "height_factor": "x"}], seed=1)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_builds_with_its_learning_rate(name):
    optimizer = build_optimizer({"name": name, "learning_rate": 0.01}, CONSTANT, 1, 1)
    assert float(optimizer.learning_rate) == pytest.approx(0.01)


def test_bad_optimizer_argument_is_named():
    with pytest.raises(ValueError, match=r"'optimizer.learning_rat'.*Did you mean 'learning_rate'"):
        build_optimizer({"name": "sgd", "learning_rat": 0.01}, CONSTANT, 1, 1)
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        build_optimizer({"name": "sgd", "learning_rate": 0.01, "momentum": -1}, CONSTANT, 1, 1)


def test_cifar_cnn_versions_follow_the_write_up():
    v2 = build_model({"name": "cifar_cnn"}, (32, 32, 3), 10)
    v4 = build_model(
        {"name": "cifar_cnn", "dropout": [0.2, 0.3, 0.4], "head_dropout": 0.5,
         "batch_norm": True, "l2": 1e-5, "initializer": "he_normal"},
        (32, 32, 3), 10,
    )  # fmt: skip
    assert layer_kinds(v2).count("Conv2D") == 6 and "Dropout" not in layer_kinds(v2)
    assert layer_kinds(v4).count("Dropout") == 4
    assert layer_kinds(v4).count("BatchNormalization") == 6
    assert len(v4.losses) == 7  # L2 on six convolutions and the hidden dense layer
    with pytest.raises(ValueError, match="one rate per block"):
        build_model({"name": "cifar_cnn", "dropout": [0.2]}, (32, 32, 3), 10)


def test_resnet20_first_layer_variants():
    small = build_model({"name": "resnet20", "stage_filters": [8, 16, 32]}, (32, 32, 3), 5)
    large = build_model(
        {"name": "resnet20", "stage_filters": [8, 16, 32], "first_layer": "7x7_maxpool"},
        (32, 32, 3), 5,
    )  # fmt: skip
    assert small.get_layer("stem_conv").kernel_size == (3, 3)
    assert large.get_layer("stem_conv").kernel_size == (7, 7)
    assert "stem_extra_pool" in [layer.name for layer in large.layers]
    assert layer_kinds(small).count("Add") == 6  # two residual blocks per stage
    with pytest.raises(ValueError, match="first_layer must be '3x3' or '7x7_maxpool'"):
        build_model({"name": "resnet20", "first_layer": "5x5"}, (32, 32, 3), 5)


# keras.applications module of each application: its preprocess_input is the reference.
PREPROCESSING_OF = {"ResNet50": "resnet50", "MobileNetV2": "mobilenet_v2",
                    "DenseNet121": "densenet", "EfficientNetB0": "efficientnet"}  # fmt: skip


def base_of(model):
    """The keras.applications base inside a keras_app model."""
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def before_base(model, images):
    """What the layers between the model's input and its base make of ``images``."""
    x = images
    for layer in model.layers[1:]:
        if layer is base_of(model):
            return np.asarray(x)
        x = layer(x)
    raise AssertionError("no base model")


@pytest.mark.parametrize("application", list(PREPROCESSING_OF))
def test_keras_applications_build_with_their_preprocessing(application):
    import keras

    model = build_model(
        {"name": f"keras_app:{application}", "weights": "none", "head_dropout": 0.2},
        (32, 32, 3), 4,
    )  # fmt: skip
    images = np.random.default_rng(0).uniform(0, 255, size=(2, 32, 32, 3)).astype("float32")
    assert model.predict(images, verbose=0).shape == (2, 4)
    # The base gets pixels as its ImageNet weights expect them: the application's own
    # preprocess_input, applied once.
    module = getattr(keras.applications, PREPROCESSING_OF[application])
    expected = np.asarray(module.preprocess_input(images.copy()))
    np.testing.assert_allclose(before_base(model, images), expected, rtol=1e-5, atol=1e-4)
    if application == "EfficientNetB0":  # preprocess_input is the identity: the base
        base = base_of(model)  # rescales by itself, from 0-255 pixels
        assert type(base.layers[1]).__name__ == "Rescaling"
        assert base.layers[1].scale == pytest.approx(1 / 255)


@pytest.fixture
def imagenet_without_download(monkeypatch):
    """keras_app:MobileNetV2 with ``weights: imagenet`` built with random weights instead:
    the freezing of a pretrained base, checked offline."""
    import keras

    real = keras.applications.MobileNetV2

    def random_weights(*args, weights=None, **kwargs):
        assert weights == "imagenet"
        return real(*args, weights=None, **kwargs)

    monkeypatch.setattr(keras.applications, "MobileNetV2", random_weights)


def train_one_batch(model):
    """One SGD step on random images; returns the weights before and after, by path."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy")
    labels = np.eye(4)[np.random.default_rng(2).integers(0, 4, size=8)]
    before = {w.path: np.array(w) for w in model.weights}
    model.train_on_batch(IMAGES, labels)
    return before, {w.path: np.array(w) for w in model.weights}


IMAGES = np.random.default_rng(1).uniform(0, 255, size=(8, 32, 32, 3)).astype("float32")


def changed(before, after, names):
    return [name for name in names if not np.array_equal(before[name], after[name])]


def batch_norm_statistics(base):
    return {
        w.path
        for layer in base.layers
        if type(layer).__name__ == "BatchNormalization"
        for w in layer.non_trainable_weights
    }


def test_a_pretrained_base_is_frozen_with_its_batch_norm_in_inference_mode(
    imagenet_without_download,
):
    model = build_model({"name": "keras_app:MobileNetV2"}, (32, 32, 3), 4)
    base = base_of(model)
    assert not any(layer.trainable for layer in base.layers)
    assert [w.path for w in model.trainable_weights] == ["classes/kernel", "classes/bias"]
    before, after = train_one_batch(model)
    # Nothing of the base moves, its BatchNormalization statistics included.
    assert changed(before, after, [w.path for w in base.weights]) == []
    assert batch_norm_statistics(base)
    assert changed(before, after, ["classes/bias"]) == ["classes/bias"]


FINE_TUNE = {"name": "keras_app:MobileNetV2", "fine_tune_from": "block_16_expand"}


def test_fine_tune_from_trains_exactly_that_layer_and_the_later_ones(imagenet_without_download):
    import keras

    model = build_model(FINE_TUNE, (32, 32, 3), 4)
    base = base_of(model)
    names = [layer.name for layer in base.layers]
    start = names.index("block_16_expand")
    # From that layer on every layer trains but BatchNormalization (Keras' fine-tuning
    # advice: it keeps its ImageNet statistics).
    expected = [
        index >= start and not isinstance(layer, keras.layers.BatchNormalization)
        for index, layer in enumerate(base.layers)
    ]
    assert [layer.trainable for layer in base.layers] == expected
    assert any(expected) and not all(expected[start:])
    later = [w.path for layer in base.layers[start:] for w in layer.trainable_weights]
    assert [w.path for w in model.trainable_weights] == [*later, "classes/kernel", "classes/bias"]
    before, after = train_one_batch(model)
    earlier = [w.path for layer in base.layers[:start] for w in layer.weights]
    assert changed(before, after, earlier) == []
    # (Whether they move in one step depends on the weights: with the random stand-in
    # weights and inference-mode BatchNormalization, ReLU6 saturates; the trainable
    # weights above are what the optimizer updates.)
    assert changed(before, after, ["classes/bias"]) == ["classes/bias"]
    with pytest.raises(ValueError, match="no layer 'block_99' to fine-tune from"):
        build_model({**FINE_TUNE, "fine_tune_from": "block_99"}, (32, 32, 3), 4)


def test_fine_tuned_batch_norm_layers_keep_their_statistics(imagenet_without_download):
    model = build_model(FINE_TUNE, (32, 32, 3), 4)
    before, after = train_one_batch(model)
    assert changed(before, after, batch_norm_statistics(base_of(model))) == []


def test_a_base_without_weights_trains_whole_and_learns_its_batch_statistics():
    model = build_model({"name": "keras_app:MobileNetV2", "weights": "none"}, (32, 32, 3), 4)
    base = base_of(model)
    assert all(layer.trainable for layer in base.layers)
    before, after = train_one_batch(model)
    assert changed(before, after, batch_norm_statistics(base))


def test_missing_imagenet_weights_fail_before_training_saying_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as error:
        build_model({"name": "keras_app:MobileNetV2"}, (96, 96, 3), 5)
    message = str(error.value)
    assert f"{tmp_path}/models/mobilenet_v2" in message
    assert "keras.applications.MobileNetV2(include_top=False, weights='imagenet')" in message


def test_keras_app_names_and_options_are_checked_without_tensorflow():
    with pytest.raises(
        ValueError, match=r"unknown keras.applications model 'ResNet51'. Did you mean 'ResNet50'"
    ):
        check_model_spec({"name": "keras_app:ResNet51"})
    with pytest.raises(
        ValueError,
        match=r"'model.freeze': unknown argument of model 'keras_app:ResNet50'\. "
        r"Accepted: weights, fine_tune_from, head_dropout, remove\.$",
    ):
        check_model_spec({"name": "keras_app:ResNet50", "freeze": True})
    with pytest.raises(ValueError, match=r"keras_app:<name>"):
        check_model_spec({"name": "resnet50"})
    with pytest.raises(ValueError, match="needs rgb images"):
        build_model({"name": "keras_app:ResNet50", "weights": "none"}, (32, 32, 1), 2)
