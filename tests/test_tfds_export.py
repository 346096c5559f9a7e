"""ablate.data.tfds_export on real TFDS code, offline: a tiny builder prepared into tmp_path and
catalogue data sets mocked by tfds.testing.mock_data."""

from __future__ import annotations

import io
import socket
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ablate.data.tfds_export import _folder_names, export_tfds

tfds = pytest.importorskip("tensorflow_datasets")

NAMES = ["cat", "dog/wolf", ".hidden"]
FOLDERS = ["cat", "dog_wolf", "_hidden"]
SPLITS = {
    "train_test": {"train": 6, "test": 3},
    "train_validation_test": {"train": 6, "validation": 3, "test": 3, "extra": 2},
    "train_validation": {"train": 6, "validation": 4},
    "text": {"train": 2, "test": 2},
    "raw": {"train": 3, "test": 3},
    "unlabelled_test": {"train": 2, "test": 2},
}


def example(split: str, index: int) -> tuple[np.ndarray, bytes, int]:
    """Deterministic pixels, their encoding (PNG for even indices, else JPEG) and label."""
    rng = np.random.default_rng([*split.encode(), index])  # differs per split
    pixels = rng.integers(0, 256, size=(5, 4 + index % 3, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG" if index % 2 == 0 else "JPEG")
    return pixels, buffer.getvalue(), index % 3


class AblateTinyImages(tfds.core.GeneratorBasedBuilder):
    """Images with encoded PNG/JPEG bytes and a ClassLabel; configs choose the splits."""

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [tfds.core.BuilderConfig(name=name) for name in SPLITS]  # noqa: RUF012

    def _info(self) -> tfds.core.DatasetInfo:
        label = tfds.features.ClassLabel(names=NAMES)
        config = self.builder_config.name
        features = {
            "text": {"text": tfds.features.Text(), "label": label},
            "raw": {"image": tfds.features.Tensor(shape=(5, 4, 3), dtype=np.uint8), "label": label},
        }.get(config, {"image": tfds.features.Image(shape=(None, None, 3)), "label": label})
        features["name"] = tfds.features.Text()  # an extra feature the export must skip
        supervised = {"train_test": ("image", "label"), "raw": ("image", "label")}.get(config)
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(features),
            supervised_keys=supervised,
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in SPLITS[self.builder_config.name]}

    def _generate_examples(self, split: str):
        for index in range(SPLITS[self.builder_config.name][split]):
            pixels, encoded, label = example(split, index)
            image = {"text": "some words", "raw": pixels[:, :4]}.get(self.builder_config.name)
            key = "text" if self.builder_config.name == "text" else "image"
            if self.builder_config.name == "unlabelled_test" and split == "test":
                label = -1  # as imagenet2012's test split
            yield index, {key: encoded if image is None else image, "label": label, "name": "x"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the internet fails the test loudly instead of hanging."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def read_export(destination: Path) -> dict[str, list[str]]:
    """Split lists, checked: sorted, pointing at existing files, each file listed once."""
    lists = {}
    for path in sorted((destination / "splits").glob("*.txt")):
        lines = path.read_text().splitlines()
        assert lines == sorted(lines)
        assert all((destination / "images" / line).is_file() for line in lines)
        if lines:  # an empty validation list: the data set has none of its own
            lists[path.stem] = lines
    assert {path.stem for path in (destination / "splits").glob("*.txt")} == {
        "train",
        "validation",
        "test",
    }
    files = [p for p in (destination / "images").rglob("*") if p.is_file()]
    assert sorted(line for lines in lists.values() for line in lines) == sorted(
        p.relative_to(destination / "images").as_posix() for p in files
    )
    return lists


def expected_files(split: str, count: int) -> Counter[tuple[str, bytes]]:
    """(class folder, bytes) of a split; TFDS shuffles examples, so compare as multisets."""
    return Counter(
        (FOLDERS[label], encoded)
        for _, encoded, label in (example(split, index) for index in range(count))
    )


def exported_files(destination: Path, lines: list[str]) -> Counter[tuple[str, bytes]]:
    root = destination / "images"
    return Counter((line.split("/")[0], (root / line).read_bytes()) for line in lines)


@pytest.mark.parametrize(
    ("config", "mapping"),
    [
        ("train_test", {"train": "train", "test": "test"}),
        ("train_validation_test", {"train": "train", "validation": "validation", "test": "test"}),
        ("train_validation", {"train": "train", "test": "validation"}),
    ],
)
def test_local_builder_exports_encoded_bytes_and_split_lists(
    tmp_path: Path, config: str, mapping: dict[str, str]
) -> None:
    destination = tmp_path / "export"
    counts = export_tfds(
        f"ablate_tiny_images/{config}:1.0.0", destination, data_dir=str(tmp_path / "tfds")
    )
    sizes = SPLITS[config]
    assert counts == {ablate: sizes[source] for ablate, source in mapping.items()}
    lists = read_export(destination)
    assert set(lists) == set(mapping)  # no validation unless the data set has a test split
    assert sorted(p.name for p in (destination / "images").iterdir()) == sorted(FOLDERS)
    for ablate, source in mapping.items():
        assert exported_files(destination, lists[ablate]) == expected_files(source, sizes[source])
        assert all(line.split("/")[1].startswith(f"{source}-") for line in lists[ablate])
    extensions = Counter(Path(line).suffix for lines in lists.values() for line in lines)
    assert set(extensions) == {".png", ".jpg"}


def test_raw_pixel_images_are_written_as_png(tmp_path: Path) -> None:
    destination = tmp_path / "export"
    counts = export_tfds("ablate_tiny_images/raw", destination, data_dir=str(tmp_path / "tfds"))
    assert counts == {"train": 3, "test": 3}
    lists = read_export(destination)
    for split, lines in lists.items():
        assert all(line.endswith(".png") for line in lines)
        exported = sorted(
            np.asarray(Image.open(destination / "images" / line)).tobytes() for line in lines
        )
        wanted = sorted(example(split, i)[0][:, :4].tobytes() for i in range(SPLITS["raw"][split]))
        assert exported == wanted


def test_not_image_classification_names_the_features(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an image classification") as raised:
        export_tfds("ablate_tiny_images/text", tmp_path / "export", data_dir=str(tmp_path / "tfds"))
    message = str(raised.value)
    assert "'ablate_tiny_images/text'" in message
    assert "text: Text" in message and "label: ClassLabel" in message
    assert not (tmp_path / "tfds").exists()  # refused before downloading anything


def test_unlabelled_examples_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"split 'test' has unlabelled examples \(label -1\)"):
        export_tfds("ablate_tiny_images/unlabelled_test", tmp_path / "x", data_dir=str(tmp_path))


def write_metadata(data_dir: Path, name: str, splits: dict[str, int], names: list[str] | None):
    """Metadata as `tfds build` would leave it, so mock_data knows the real split names."""
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE):
        builder = tfds.builder(name)
        info = builder.info
        if names:
            info.features["label"].names = names
        template = tfds.core.ShardedFileTemplate(
            data_dir=str(data_dir), dataset_name=name, filetype_suffix="tfrecord"
        )
        info.set_splits(
            tfds.core.SplitDict(
                [
                    tfds.core.SplitInfo(
                        name=split,
                        shard_lengths=[size],
                        num_bytes=0,
                        filename_template=template.replace(split=split),
                    )
                    for split, size in splits.items()
                ]
            )
        )
        folder = data_dir / name / str(builder.version)
        folder.mkdir(parents=True)
        info.write_to_directory(folder)


@pytest.mark.parametrize(
    ("name", "splits", "names", "listed"),
    [
        # Real class names are only known after a download: these stand in for them.
        ("stanford_dogs", {"train": 12000, "test": 8580}, [f"n{i:08d}-dog_{i}" for i in range(120)],
         {"train": "train", "test": "test"}),
        # Food-101's class names ship with TFDS; its official test list is TFDS "validation".
        ("food101", {"train": 75750, "validation": 25250}, None,
         {"train": "train", "test": "validation"}),
    ],
)  # fmt: skip
def test_catalogue_data_sets_with_mock_data(
    tmp_path: Path, name: str, splits: dict[str, int], names: list[str] | None, listed: dict
) -> None:
    write_metadata(tmp_path / "meta", name, splits, names)
    policy = tfds.testing.MockPolicy.USE_FILES
    with tfds.testing.mock_data(num_examples=7, policy=policy, data_dir=str(tmp_path / "meta")):
        class_names = tfds.builder(name).info.features["label"].names
        counts = export_tfds(name, tmp_path / "export")
    assert counts == {"train": 7, "test": 7}
    # Food-101's 101 names ship with TFDS as a text file; the dogs' were written above.
    shipped = tfds.core.tfds_path("image_classification/food-101_classes.txt")
    expected = names or Path(shipped).read_text().split()
    assert len(expected) == {"stanford_dogs": 120, "food101": 101}[name]
    assert class_names == expected
    assert sorted(p.name for p in (tmp_path / "export/images").iterdir()) == sorted(expected)
    lists = read_export(tmp_path / "export")
    assert set(lists) == {"train", "test"}
    for ablate, source in listed.items():
        assert all(line.split("/")[1].startswith(f"{source}-") for line in lists[ablate])
        for line in lists[ablate]:
            Image.open(tmp_path / "export/images" / line).verify()  # real encoded images


def test_download_failure_says_where_tfds_looks_and_how_to_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(self: object, *args: object, **kwargs: object) -> None:
        raise ConnectionError("Failed to resolve 'vision.stanford.edu'")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(RuntimeError) as raised:
        export_tfds("stanford_dogs", tmp_path / "export", data_dir=str(tmp_path / "tfds"))
    message = str(raised.value)
    assert "tfds build stanford_dogs --data_dir" in message and "vision.stanford.edu" in message
    assert str(tmp_path / "tfds") in message and "ConnectionError" in message
    with pytest.raises(RuntimeError, match=r"not prepared and download=False.*tfds build"):
        export_tfds("stanford_dogs", tmp_path / "export", data_dir=str(tmp_path), download=False)


def test_folder_names_are_safe_readable_and_unique() -> None:
    folders = _folder_names(["a/b", "a_b", ".x", "", " Cat ", "cat", "..", "ok"])
    assert folders == ["a_b", "a_b_1", "_x", "class_3", "Cat", "cat_5", "_.", "ok"]
    assert len({f.casefold() for f in folders}) == len(folders)
