import hashlib
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ablate.data.manifest import class_names, read_manifest
from ablate.data.sources import fetch
from ablate.data.split import SPLITS, materialise, split_dataset

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


def test_images_whose_names_meet_in_a_class_folder_are_numbered_not_overwritten(tmp_path):
    """Nested folders (cat/a/1.png, cat/b/1.png) and conversions (1.bmp -> 1.png) can give
    the same name in one split's class folder: every image keeps its own file."""
    sources = {"cat/a/1.png": (200, 0, 0), "cat/b/1.png": (0, 200, 0), "cat/1.bmp": (0, 0, 200),
               "dog/1.png": (9, 9, 9)}  # fmt: skip
    for source, colour in sources.items():
        (tmp_path / "raw" / source).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 3), colour).save(tmp_path / "raw" / source)
    images = pd.DataFrame({
        "source": list(sources), "class": ["cat", "cat", "cat", "dog"],
        "split": ["train", "train", "train", "train"], "width": [4] * 4, "height": [3] * 4,
        "convert": ["", "", "16-bit BMP", ""],
    })  # fmt: skip
    manifest = materialise(images, tmp_path / "raw", tmp_path / "split")
    assert manifest["file"].tolist() == ["train/cat/1.png", "train/cat/1-2.png",
                                         "train/cat/1-3.png", "train/dog/1.png"]  # fmt: skip
    assert manifest["source"].tolist() == list(sources)
    for row in manifest.itertuples():
        with Image.open(tmp_path / "split" / row.file) as written:
            assert written.format == "PNG" and written.mode == "RGB"
            assert written.getpixel((0, 0)) == sources[row.source]
        digest = hashlib.sha256((tmp_path / "split" / row.file).read_bytes()).hexdigest()
        assert row.sha256 == digest
    copied = (tmp_path / "split/train/cat/1.png").read_bytes()
    assert copied == (tmp_path / "raw/cat/a/1.png").read_bytes()  # copied as it is
    # every split has every class's folder, even where no image of it fell
    assert sorted(p.relative_to(tmp_path / "split").as_posix()
                  for p in (tmp_path / "split").glob("*/*")) == [
        f"{split}/{name}" for split in sorted(SPLITS) for name in ("cat", "dog")]  # fmt: skip


def test_a_manifest_reads_back_classes_named_like_missing_values_as_classes(tmp_path):
    path = tmp_path / "manifest.csv"
    names = ["NA", "null", "None", "nan"]
    pd.DataFrame({"file": [f"train/{n}/0.png" for n in names], "class": names,
                  "split": "train", "sha256": "0" * 64, "width": 8,
                  "height": 6}).to_csv(path, index=False)  # fmt: skip
    manifest = read_manifest(path)
    assert manifest["class"].tolist() == names
    assert manifest["width"].tolist() == [8] * 4 and manifest["height"].dtype.kind == "i"
    assert class_names(path) == sorted(names)


def test_every_file_is_accounted_for_once_in_the_reports_of_the_split(tmp_path, caplog):
    """Split by index ranges in natural name order (9.png before 10.png): the inventory
    lists every file once (used, converted, quarantined or ignored, with the reason), the
    quarantine and the conflicting labels are written, and the log sums it up."""
    raw = tmp_path / "raw"
    for name in ("cat", "dog"):
        (raw / name).mkdir(parents=True)
        for index in range(1, 12):
            Image.new("RGB", (8, 8), (index * 20, 99 * (name == "dog"), 0)).save(
                raw / name / f"{index}.png"
            )
    (raw / "cat" / "broken.jpg").write_bytes(b"")
    (raw / "readme.txt").write_text("not an image")
    (raw / "dog" / "7.png").write_bytes((raw / "cat" / "3.png").read_bytes())  # mislabelled
    frames = [Image.new("CMYK", (8, 8), (level, 2, 3, 4)) for level in (1, 99)]
    frames[0].save(raw / "dog" / "0.tif", save_all=True, append_images=frames[1:])  # first
    Image.new("CMYK", (8, 8), (4, 3, 2, 1)).save(raw / "cat" / "zz.jpg")  # last: not drawn
    split = {"by": "ranges", "train": [0, 6], "validation": [6, 8], "test": [8, 10],
             "seed": 0, "max_per_class": None}  # fmt: skip
    names = ("quarantine", "inventory", "conflicts", "near_duplicates")
    reports = {name: tmp_path / f"{name}.csv" for name in names}
    caplog.set_level("INFO")
    paths = {f"{name}_path": path for name, path in reports.items()}
    manifest = split_dataset(raw, tmp_path / "split", tmp_path / "manifest.csv", split, **paths)
    test = manifest[manifest["split"] == "test"].sort_values("file")
    assert test["file"].tolist() == ["test/cat/10.png", "test/cat/9.png",
                                     "test/dog/8.png", "test/dog/9.png"]  # fmt: skip
    assert "train/dog/0.png" in manifest["file"].tolist()  # the CMYK TIFF, converted

    inventory = pd.read_csv(reports["inventory"], dtype=str, keep_default_na=False)
    every = sorted(p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file())
    assert inventory["source"].tolist() == every  # each file once
    status = inventory.set_index("source")
    assert status.loc["dog/0.tif", ["status", "file", "reason"]].tolist() == [
        "converted", "train/dog/0.png",
        "format TIFF is converted for TensorFlow; mode CMYK; animated (2 frames)"]  # fmt: skip
    assert status.loc["cat/broken.jpg", ["status", "reason"]].tolist() == [
        "quarantined", "empty file (0 bytes)"]  # fmt: skip
    assert status.loc["readme.txt", ["status", "reason"]].tolist() == [
        "ignored", "not inside a class folder"]  # fmt: skip
    outside = status.index[status["reason"] == "outside the index ranges of dataset.split"]
    assert sorted(outside) == ["cat/11.png", "cat/zz.jpg", "dog/10.png", "dog/11.png"]
    assert status["status"].value_counts().to_dict() == {
        "used": 19, "ignored": 5, "converted": 1, "quarantined": 1}  # fmt: skip

    quarantine = pd.read_csv(reports["quarantine"])
    assert quarantine.values.tolist() == [["cat/broken.jpg", "cat", "empty file (0 bytes)"]]
    conflicts = pd.read_csv(reports["conflicts"])
    assert sorted(conflicts["file"]) == ["train/cat/3.png", "validation/dog/7.png"]
    assert pd.read_csv(reports["near_duplicates"]).empty
    logged = [record.getMessage() for record in caplog.records if record.name.startswith("ablate")]
    assert logged == [
        "left out cat/broken.jpg: empty file (0 bytes)",
        "1 image(s) converted to RGB PNG (CMYK, RGBA, 16-bit, ...)",  # not the undrawn one
        "conflicting labels: 2 image(s) have the same bytes as an image of another class "
        "(1 distinct images); see conflicting_labels.csv",
        f"every file under {raw}: 19 used, 1 converted, 1 quarantined, 5 ignored",
    ]  # fmt: skip
    # the files hold the tables alone, no index column
    columns = {name: pd.read_csv(path).columns.tolist() for name, path in reports.items()}
    assert columns["inventory"] == ["source", "status", "class", "split", "file", "reason"]
    assert columns["quarantine"] == ["source", "class", "reason"]
    assert columns["conflicts"] == ["sha256", "file", "class", "split"]
    assert columns["near_duplicates"][0] == "test_file"
    manifest_columns = pd.read_csv(tmp_path / "manifest.csv").columns.tolist()
    assert manifest_columns == ["file", "class", "split", "sha256", "width", "height"]


def class_folders(top: Path, sizes: dict[str, int]) -> None:
    """``sizes[name]`` small PNGs in each class folder under ``top``, all different."""
    for number, (name, count) in enumerate(sizes.items()):
        (top / name).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixel = (index * 9, number * 40, 0)
            Image.new("RGB", (8, 8), pixel).save(top / name / f"{index}.png")


def test_a_class_too_small_for_a_split_is_named(tmp_path):
    class_folders(tmp_path / "raw", {"cat": 20, "dog": 3})
    with pytest.raises(ValueError) as error:
        split_dataset(tmp_path / "raw", tmp_path / "split", tmp_path / "m.csv", by_fractions(0))
    assert str(error.value) == (
        "split 'validation' has no images of class(es) ['dog']; give those classes more "
        "images or change dataset.split."
    )


def test_the_pixel_limit_of_the_split_settings_is_the_one_applied(tmp_path):
    class_folders(tmp_path / "raw", {"cat": 10, "dog": 10})
    Image.new("RGB", (30, 20), (1, 2, 3)).save(tmp_path / "raw" / "cat" / "large.png")
    split = {**by_fractions(0), "max_pixels": 500}  # dataset.max_pixels
    split_dataset(tmp_path / "raw", tmp_path / "split", tmp_path / "m.csv", split,
                  quarantine_path=tmp_path / "q.csv")  # fmt: skip
    quarantine = pd.read_csv(tmp_path / "q.csv")
    assert quarantine["source"].tolist() == ["cat/large.png"]
    assert "600 pixels, over dataset.max_pixels (500)" in quarantine.loc[0, "reason"]
