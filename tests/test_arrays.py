"""Decode once into array files; batches gathered from the memory-mapped arrays."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ablate.data.arrays import decode_split, load_arrays
from ablate.data.split import split_dataset
from ablate.train import runtime

runtime.configure()


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """Three classes of 20 RGB images of different sizes, one a CMYK JPEG (converted)."""
    root = tmp_path_factory.mktemp("arrays")
    rng = np.random.default_rng(0)
    for index, name in enumerate(("ant", "bee", "cow")):
        (root / "raw" / name).mkdir(parents=True)
        for number in range(20):
            pixels = rng.integers(0, 256, (30 + number, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "raw" / name / f"{number}.png")
        Image.new("CMYK", (20, 20), (index * 50, 0, 0, 0)).save(root / "raw" / name / "cmyk.jpg")
    settings = {"by": "fractions", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 0,
                "max_per_class": None}  # fmt: skip
    split_dataset(root / "raw", root / "split", root / "manifest.csv", settings)
    return root


def decode(split, name, size=(16, 24), color_mode="rgb"):
    paths = (split / f"{name}-images.npy", split / f"{name}-labels.npy")
    decode_split(
        split_dir=split / "split", manifest=split / "manifest.csv", split=name,
        image_size=size, color_mode=color_mode, images_path=paths[0], labels_path=paths[1],
    )  # fmt: skip
    return load_arrays(*paths)


def test_arrays_match_keras_decoding_in_manifest_order(split):
    import keras

    images, labels = decode(split, "test")
    manifest = pd.read_csv(split / "manifest.csv")
    test = manifest[manifest["split"] == "test"]
    assert isinstance(images, np.memmap) and images.dtype == np.uint8
    assert images.shape == (len(test), 16, 24, 3)
    assert labels.tolist() == test["class"].map({"ant": 0, "bee": 1, "cow": 2}).tolist()
    for row, file in enumerate(test["file"]):
        reference = keras.utils.img_to_array(keras.utils.load_img(split / "split" / file))
        resized = keras.ops.convert_to_numpy(keras.ops.image.resize(reference, (16, 24)))
        # Same bilinear resize as image_dataset_from_directory, then rounded to uint8.
        assert np.abs(images[row] - resized).max() <= 0.5 + 1e-3


def test_grayscale_arrays_have_one_channel(split):
    images, _ = decode(split, "validation", (8, 8), "grayscale")
    assert images.shape[1:] == (8, 8, 1)


def test_training_batches_cover_every_image_once_per_epoch_and_reshuffle(split):
    from ablate.data.pipeline import evaluation_pipeline, gather_batches

    images, labels = decode(split, "train")
    marked = np.arange(len(images))  # gather labels that are row numbers, to track rows

    def epochs(seed):
        dataset = gather_batches(images, marked.astype(np.int32), 5, seed)
        return [np.concatenate([rows for _, rows in dataset.as_numpy_iterator()]) for _ in "ab"]

    first, second = epochs(seed=1)
    assert sorted(first) == sorted(second) == list(range(len(images)))
    assert not np.array_equal(first, second)  # reshuffled every epoch
    again = epochs(seed=1)
    assert np.array_equal(first, again[0]) and np.array_equal(second, again[1])
    batch_images, batch_rows = next(iter(gather_batches(images, marked.astype(np.int32), 5, 1)))
    assert batch_images.dtype.name == "float32"
    assert np.array_equal(batch_images.numpy(), images[batch_rows.numpy()].astype(np.float32))
    ordered = np.concatenate([y for _, y in evaluation_pipeline(gather_batches(images, labels, 7))])
    assert np.array_equal(ordered, labels)  # evaluation keeps array order


def test_mismatched_array_files_are_named(split, tmp_path):
    _, labels = decode(split, "test")
    np.save(tmp_path / "labels.npy", labels[:-1])
    with pytest.raises(ValueError, match="delete both and run again"):
        load_arrays(split / "test-images.npy", tmp_path / "labels.npy")


def test_an_image_changed_after_the_split_stops_decode_by_name(split, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(split / "split", copy / "split")
    shutil.copy(split / "manifest.csv", copy / "manifest.csv")
    manifest = pd.read_csv(copy / "manifest.csv")
    changed = manifest[manifest["split"] == "test"]["file"].iloc[0]
    Image.new("RGB", (8, 8), (1, 2, 3)).save(copy / "split" / changed)
    with pytest.raises(ValueError, match=rf"^{copy}/split/{changed} changed after the split.*"
                       "--forcerun split"):  # fmt: skip
        decode(copy, "test")
    assert not (copy / "test-labels.npy").exists()


def test_a_file_tensorflow_cannot_decode_is_named(tmp_path):
    """The safety net behind the image check: a 16-bit BMP (which the check converts)."""
    import hashlib

    from test_inventory import bmp16

    for name in ("a", "b"):
        (tmp_path / "split" / "test" / name).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "split" / "test" / name / "ok.png")
    bmp16(tmp_path / "split" / "test" / "b" / "deep.bmp")
    files = ["test/a/ok.png", "test/b/ok.png", "test/b/deep.bmp"]
    rows = [{"file": f, "class": f.split("/")[1], "split": "test", "width": 8, "height": 8,
             "sha256": hashlib.sha256((tmp_path / "split" / f).read_bytes()).hexdigest()}
            for f in files]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(ValueError, match=r"test/b/deep.bmp: TensorFlow cannot decode it"):
        decode(tmp_path, "test")
