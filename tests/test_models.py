import numpy as np
import pytest
from ablate import runtime
from ablate.augment import AUGMENTATIONS, build_augmentation
from ablate.models import MODELS, build_model, check_model_spec
from ablate.optimizers import OPTIMIZERS, build_optimizer

runtime.configure(seed=0)


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


def test_unknown_model_name_and_argument_are_explained():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*Valid names: .*small_convnet"):
        check_model_spec({"name": "resnet"})
    with pytest.raises(ValueError, match=r"unknown argument\(s\) 'dropuot'; accepted: .*dropout"):
        build_model({"name": "small_convnet", "dropuot": 0.1}, (16, 16, 1), 2)


@pytest.mark.parametrize("name", AUGMENTATIONS.names())
def test_every_augmentation_keeps_the_batch_shape(name):
    options = {
        "random_flip": {},
        "random_rotation": {"factor": 0.1},
        "random_zoom": {"height_factor": 0.1},
        "random_translation": {"height_factor": 0.1, "width_factor": 0.1},
        "random_contrast": {"factor": 0.2},
        "random_brightness": {"factor": 0.2},
    }[name]
    augmentation = build_augmentation([{"name": name, **options}], seed=1)
    images = np.random.default_rng(0).uniform(0, 255, size=(16, 16, 16, 3)).astype("float32")
    augmented = np.asarray(augmentation(images, training=True))
    assert augmented.shape == images.shape
    assert not np.allclose(augmented, images)  # it really changes the images


def test_no_augmentation_builds_nothing_and_bad_arguments_are_named():
    assert build_augmentation([], seed=1) is None
    with pytest.raises(ValueError, match=r"augmentation\[0\] 'random_zoom'"):
        build_augmentation([{"name": "random_zoom", "zoom": 0.1}], seed=1)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_builds_with_its_learning_rate(name):
    optimizer = build_optimizer({"name": name, "learning_rate": 0.01})
    assert float(optimizer.learning_rate) == pytest.approx(0.01)


def test_bad_optimizer_argument_is_named():
    with pytest.raises(ValueError, match="optimizer 'sgd'"):
        build_optimizer({"name": "sgd", "learning_rat": 0.01})
