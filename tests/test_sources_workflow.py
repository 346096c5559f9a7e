"""The real snakemake on a 'url:' source: a Kaggle-style archive served on 127.0.0.1,
labels from file names, S2's per-class index ranges, decode once, train, evaluate."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import snakemake, tiny_config, write_config
from PIL import Image
from standins import serve_folder, sha256

# Targets that run a source's download, split and decode steps and nothing after them.
ARRAYS = [
    f"results/tiny/data/arrays/{split}-{part}.npy"
    for split in ("train", "validation", "test")
    for part in ("images", "labels")
]


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory):
    """Serves kaggle.zip: train/{cat,dog}.<i>.jpg (12 each, cat.5.jpg corrupt) + readme."""
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(folder / "kaggle.zip", "w") as archive:
        archive.writestr("README.txt", "a stand-in of the Kaggle dogs-vs-cats train archive")
        for animal in ("cat", "dog"):
            for index in range(12):
                if (animal, index) == ("cat", 5):
                    continue  # written below as a broken file
                pixels = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
                pixels[..., 0 if animal == "cat" else 2] = 255  # learnable: red cats, blue dogs
                path = folder / "image.jpg"
                Image.fromarray(pixels).save(path)
                archive.write(path, f"train/{animal}.{index}.jpg")
        archive.writestr("train/cat.5.jpg", b"\xff\xd8\xff not really a jpeg")
    with serve_folder(folder) as url:
        yield f"{url}/kaggle.zip", sha256(folder / "kaggle.zip")


def kaggle_config(url: str, digest: str) -> dict:
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["dataset"] = {
        "source": f"url:{url}",
        "sha256": digest,
        "labels": {
            "from": "file_name",
            "root": "train",
            "pattern": r"(?P<class>cat|dog)\.\d+\.jpg",
        },
        "split": {"by": "ranges", "train": [0, 6], "validation": [6, 9], "test": [9, 12]},
        "image_size": [8, 8],
        "color_mode": "rgb",
    }
    config["base"]["epochs"] = 1
    return config


def test_url_source_is_downloaded_split_and_decoded(archive_server, tmp_path):
    url, digest = archive_server
    write_config(tmp_path, kaggle_config(url, digest))
    # Up to the decoded arrays: the S2 and S4 smoke runs train from served archives.
    snakemake(tmp_path, "--cores", "2", "--show-failed-logs", *ARRAYS)
    data = tmp_path / "results" / "tiny" / "data"
    manifest = pd.read_csv(data / "manifest.csv")
    counts = manifest.groupby(["split", "class"]).size().unstack()
    assert counts.to_dict() == {
        "cat": {"test": 3, "train": 5, "validation": 3},  # cat.5.jpg left out
        "dog": {"test": 3, "train": 6, "validation": 3},
    }
    quarantine = pd.read_csv(data / "quarantine.csv")
    assert quarantine["source"].tolist() == ["train/cat.5.jpg"]
    images = np.load(data / "arrays" / "train-images.npy", mmap_mode="r")
    assert images.shape == (11, 8, 8, 3) and images.dtype == np.uint8
    kept = list((tmp_path / "results" / "downloads").iterdir())
    assert [path.name for path in kept] == [f"{digest[:16]}-kaggle.zip"]
    assert np.load(data / "arrays" / "test-labels.npy").shape == (6,)


def test_a_wrong_checksum_stops_the_download_and_leaves_no_data(archive_server, tmp_path):
    url, digest = archive_server
    wrong = ("0" if digest[0] != "0" else "1") + digest[1:]
    write_config(tmp_path, kaggle_config(url, wrong))
    result = snakemake(tmp_path, "--cores", "1", "--show-failed-logs", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"expected {wrong}" in output and "dataset.sha256" in output
    assert not (tmp_path / "results" / "tiny" / "data" / "raw").exists()
    downloads = tmp_path / "results" / "downloads"
    assert not any(downloads.iterdir())  # no half-written archive either


def test_config_without_a_checksum_is_refused_before_anything_runs(archive_server, tmp_path):
    url, _ = archive_server
    config = kaggle_config(url, "")
    del config["dataset"]["sha256"]
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--cores", "1", "-n", check=False)
    assert result.returncode != 0
    assert "dataset.sha256" in result.stdout + result.stderr
    assert not Path(tmp_path / "results").exists()


def test_tfds_source_keeps_the_data_sets_own_splits(tmp_path):
    """A TFDS data set prepared into a local data_dir (read from its files: the snakemake
    jobs never see the builder's code) is exported and split by its own lists."""
    import tensorflow_datasets as tfds
    from test_tfds_export import SPLITS, AblateTinyImages

    name = "ablate_tiny_images/train_validation_test:1.0.0"
    assert AblateTinyImages.name == "ablate_tiny_images"
    tfds.builder(name, data_dir=str(tmp_path / "tfds")).download_and_prepare()
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["dataset"] = {
        "source": f"tfds:{name}",
        "tfds_data_dir": str(tmp_path / "tfds"),
        "image_size": [8, 8],
        "color_mode": "rgb",
    }
    config["base"]["epochs"] = 1
    write_config(tmp_path / "run", config)
    # Up to the decoded arrays: the S1 and S5 smoke runs train from TFDS stand-ins.
    snakemake(tmp_path / "run", "--cores", "2", "--show-failed-logs", *ARRAYS)
    data = tmp_path / "run" / "results" / "tiny" / "data"
    manifest = pd.read_csv(data / "manifest.csv")
    sizes = SPLITS["train_validation_test"]
    assert manifest["split"].value_counts().to_dict() == {
        split: sizes[split] for split in ("train", "validation", "test")
    }
    # The TFDS split each image came from is in its exported name.
    assert all(Path(file).name.startswith(f"{split}-") for file, split in
               zip(manifest["file"], manifest["split"], strict=True))  # fmt: skip
    assert np.load(data / "arrays" / "test-labels.npy").shape == (sizes["test"],)
