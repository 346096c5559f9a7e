import hashlib
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ablate.data.sources import fetch
from ablate.data.split import SPLITS, class_names, split_dataset

FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}


def by_fractions(seed: int, max_per_class: int | None = None) -> dict:
    """dataset.split as the config resolves it (ablate.config.dataset_settings)."""
    return {"by": "fractions", **FRACTIONS, "seed": seed, "max_per_class": max_per_class}


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    raw = tmp_path_factory.mktemp("raw") / "digits"
    fetch("builtin:digits", raw)
    return raw


def tree_digest(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_builtin_digits_are_real_images_in_class_folders(digits):
    classes = sorted(p.name for p in digits.iterdir())
    assert classes == [str(d) for d in range(10)]
    assert sum(1 for _ in digits.glob("*/*.png")) == 1797


def test_split_is_stratified_disjoint_and_complete(digits, tmp_path):
    manifest = split_dataset(digits, tmp_path / "split", tmp_path / "m.csv", by_fractions(3))
    assert len(manifest) == 1797
    names = manifest["file"].map(lambda f: Path(f).name)
    assert names.is_unique  # every image lands in exactly one split
    shares = manifest.groupby("class")["split"].value_counts(normalize=True).unstack()
    for split, fraction in FRACTIONS.items():
        assert shares[split].between(fraction - 0.03, fraction + 0.03).all(), shares
    for file, name, split in manifest[["file", "class", "split"]].itertuples(index=False):
        assert (tmp_path / "split" / file).is_file()
        assert file.startswith(f"{split}/{name}/")
    assert set(manifest["split"]) == set(SPLITS)
    assert class_names(tmp_path / "m.csv") == [str(d) for d in range(10)]


def test_same_seed_same_split_byte_for_byte(digits, tmp_path):
    for name in ("a", "b"):
        split_dataset(digits, tmp_path / name, tmp_path / f"{name}.csv", by_fractions(7))
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")
    split_dataset(digits, tmp_path / "c", tmp_path / "c.csv", by_fractions(8))
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_max_per_class_subsamples_every_class(digits, tmp_path):
    manifest = split_dataset(digits, tmp_path / "s", tmp_path / "m.csv", by_fractions(1, 20))
    assert manifest.groupby("class").size().eq(20).all()
    assert manifest.groupby(["split", "class"]).size().min() >= 2


def test_too_few_images_fail_with_the_counts_per_class(tmp_path):
    raw = tmp_path / "raw"
    for name, count in {"cat": 5, "dog": 1}.items():
        (raw / name).mkdir(parents=True)
        for index in range(count):
            Image.new("RGB", (8, 8), (index, 0, 0)).save(raw / name / f"{index}.png")
    with pytest.raises(ValueError, match=r"cannot split.*'dog': 1"):
        split_dataset(raw, tmp_path / "s", tmp_path / "m.csv", by_fractions(1))


def test_an_empty_source_names_the_folder(tmp_path):
    with pytest.raises(ValueError, match="no images found"):
        split_dataset(tmp_path, tmp_path / "s", tmp_path / "m.csv", by_fractions(1))


def test_unknown_source_kind_and_builtin_list_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data source kind 'ftp'.*builtin"):
        fetch("ftp:digits", tmp_path / "x")
    with pytest.raises(ValueError, match=r"unknown builtin data set 'digitz'.*digits"):
        fetch("builtin:digitz", tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.iterdir()) == []  # no staging folder left behind


def test_manifest_columns(digits, tmp_path):
    split_dataset(digits, tmp_path / "s", tmp_path / "m.csv", by_fractions(1, 10))
    manifest = pd.read_csv(tmp_path / "m.csv")
    assert list(manifest.columns) == ["file", "class", "split", "sha256", "width", "height"]
    assert (manifest["width"] == 32).all() and (manifest["height"] == 32).all()
    first = tmp_path / "s" / manifest.loc[0, "file"]
    assert manifest.loc[0, "sha256"] == hashlib.sha256(first.read_bytes()).hexdigest()
