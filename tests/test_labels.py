"""Labels from file names and split lists; splits by counts, index ranges and lists.

The data sets are small generated stand-ins with the real layouts: the Kaggle
dogs-vs-cats archive (S2) and Food-101's meta/train.txt + meta/test.txt (S4).
"""

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ablate.config import ConfigError, dataset_settings
from ablate.data.labels import (
    IGNORED_COLUMNS,
    SNAKEMAKE_MARK,
    _listing,
    check_class_folders,
    list_labelled,
)
from ablate.data.sources import fetch
from ablate.data.split import split_dataset


def image(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (12, 10), (shade, 255 - shade, 0)).save(path)


@pytest.fixture
def kaggle(tmp_path) -> Path:
    """train/cat.<i>.jpg and train/dog.<i>.jpg, 25 each, cat.3.jpg corrupt, a read-me."""
    top = tmp_path / "kaggle"
    for animal in ("cat", "dog"):
        for index in range(25):
            image(top / "train" / f"{animal}.{index}.jpg", index * 10)
    (top / "train" / "cat.3.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (top / "readme.txt").write_text("not an image")
    return top


@pytest.fixture
def food(tmp_path) -> Path:
    """food-101/images/<class>/<id>.jpg with meta/train.txt and meta/test.txt."""
    top = tmp_path / "food"
    lists = {"train": [], "test": []}
    for dish in ("apple_pie", "baby_back_ribs", "ramen"):
        for index in range(16):
            image(top / "food-101" / "images" / dish / f"{1000 + index}.jpg", index * 15)
            lists["train" if index < 12 else "test"].append(f"{dish}/{1000 + index}")
    for name, lines in lists.items():
        (top / "food-101" / "meta").mkdir(parents=True, exist_ok=True)
        (top / "food-101" / "meta" / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return top


def resolved(**dataset):
    """dataset.labels and dataset.split exactly as the Snakefile hands them to the split."""
    settings = dataset_settings({"source": "dir:x", **dataset})
    return settings.split, settings.labels


def run_split(top: Path, tmp_path: Path, **dataset) -> pd.DataFrame:
    split, labels = resolved(**dataset)
    fetch(f"dir:{top}", tmp_path / "raw")
    return split_dataset(
        tmp_path / "raw", tmp_path / "split", tmp_path / "manifest.csv", split, labels,
        quarantine_path=tmp_path / "quarantine.csv", inventory_path=tmp_path / "inventory.csv",
    )  # fmt: skip


def numbers(manifest: pd.DataFrame, split: str, name: str) -> list[int]:
    rows = manifest[(manifest["split"] == split) & (manifest["class"] == name)]
    return sorted(int(Path(file).name.split(".")[1]) for file in rows["file"])


def test_s2_file_name_labels_and_index_ranges(kaggle, tmp_path):
    manifest = run_split(
        kaggle, tmp_path,
        labels={"from": "file_name", "root": "train", "pattern": r"(?P<class>cat|dog)\.\d+\.jpg"},
        split={"by": "ranges", "train": [0, 10], "validation": [10, 15], "test": [15, 25]},
    )  # fmt: skip
    # Natural order: index 2 is cat.2.jpg, not cat.10.jpg; the corrupt cat.3 keeps its slot.
    assert numbers(manifest, "train", "dog") == list(range(10))
    assert numbers(manifest, "train", "cat") == [0, 1, 2, *range(4, 10)]
    assert numbers(manifest, "validation", "cat") == list(range(10, 15))
    assert numbers(manifest, "test", "dog") == list(range(15, 25))
    quarantine = pd.read_csv(tmp_path / "quarantine.csv")
    assert quarantine["source"].tolist() == ["train/cat.3.jpg"]
    assert not manifest["file"].str.contains("readme").any()
    for file in manifest["file"]:  # the class folders the write-up copied by hand
        assert (tmp_path / "split" / file).is_file()


def test_ranges_past_the_end_of_a_class_name_it(kaggle, tmp_path):
    with pytest.raises(ValueError, match=r"reach index 29.*'cat': 25"):
        run_split(
            kaggle, tmp_path,
            labels={"from": "file_name", "root": "train", "pattern": r"(?P<class>\w+)\.\d+\.jpg"},
            split={"by": "ranges", "train": [0, 10], "validation": [10, 20], "test": [20, 30]},
        )  # fmt: skip


def test_s4_split_lists_keep_the_official_test_split(food, tmp_path):
    manifest = run_split(
        food, tmp_path,
        labels={"from": "split_lists", "root": "food-101/images", "suffix": ".jpg",
                "lists": {"train": "food-101/meta/train.txt", "test": "food-101/meta/test.txt"}},
        split={"validation": 0.25, "seed": 5},
    )  # fmt: skip
    test = manifest[manifest["split"] == "test"]
    listed = (food / "food-101/meta/test.txt").read_text().split()
    kept = [
        f"{name}/{Path(file).stem}" for name, file in zip(test["class"], test["file"], strict=True)
    ]
    assert sorted(kept) == sorted(listed)
    # Validation is carved from the train list only, stratified: 3 of 12 per class.
    per_class = manifest.groupby(["split", "class"]).size().unstack()
    assert per_class.loc["validation"].eq(3).all() and per_class.loc["train"].eq(9).all()
    again = tmp_path / "again"
    again.mkdir()
    assert run_split(
        food, again,
        labels={"from": "split_lists", "root": "food-101/images", "suffix": ".jpg",
                "lists": {"train": "food-101/meta/train.txt", "test": "food-101/meta/test.txt"}},
        split={"validation": 0.25, "seed": 5},
    ).equals(manifest)  # fmt: skip


def test_a_listed_image_that_is_missing_is_named(food, tmp_path):
    with (food / "food-101/meta/test.txt").open("a") as lines:
        lines.write("ramen/999\n")
    with pytest.raises(ValueError, match=r"1 listed image\(s\) do not exist.*ramen/999.jpg"):
        run_split(
            food, tmp_path,
            labels={"from": "split_lists", "root": "food-101/images", "suffix": ".jpg",
                    "lists": {"train": "food-101/meta/train.txt",
                              "test": "food-101/meta/test.txt"}},
        )  # fmt: skip


def test_per_class_counts_are_exact_and_seeded(kaggle, tmp_path):
    labels = {"from": "file_name", "root": "train", "pattern": r"(?P<class>cat|dog)\.\d+\.jpg"}
    split = {"by": "counts", "train": 12, "validation": 4, "test": 6, "seed": 3}
    manifest = run_split(kaggle, tmp_path / "a", labels=labels, split=split)
    counts = manifest.groupby(["split", "class"]).size().unstack()
    assert counts.loc["train"].eq(12).all() and counts.loc["test"].eq(6).all()
    assert counts.loc["validation"].eq(4).all()
    assert run_split(kaggle, tmp_path / "b", labels=labels, split=split).equals(manifest)
    with pytest.raises(ValueError, match=r"asks for 30 images per class.*'cat': 24"):
        run_split(kaggle, tmp_path / "c", labels=labels, split={**split, "train": 20})


def test_a_pattern_without_a_class_group_is_a_config_error():
    with pytest.raises(ConfigError, match=r"dataset.labels.pattern.*group named class"):
        resolved(labels={"from": "file_name", "pattern": r"(cat|dog)\.\d+\.jpg"})
    with pytest.raises(ConfigError, match=r"dataset.labels.pattern"):
        resolved(labels={"from": "file_name", "pattern": "(?P<class>"})


def test_a_wrong_labels_root_lists_what_is_there(kaggle, tmp_path):
    with pytest.raises(ValueError, match=r"labels.root 'PetImages'.*holds: readme.txt, train/"):
        run_split(kaggle, tmp_path, labels={"from": "folders", "root": "PetImages"})


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        ({"split": {"by": "counts", "train": 10, "test": 5}}, "needs validation"),
        ({"split": {"by": "counts", "train": 10, "validation": 0.5, "test": 5}}, "takes a count"),
        (
            {"split": {"by": "ranges", "train": [0, 10], "validation": [5, 15], "test": [15, 20]}},
            "overlap",
        ),
        (
            {"split": {"by": "ranges", "train": [10, 0], "validation": [10, 15], "test": [15, 20]}},
            "start < stop",
        ),
        ({"split": {"by": "lists"}}, "needs dataset.labels from 'split_lists'"),
        ({"split": {"train": 0.5, "validation": 0.2, "test": 0.2}}, "must be 1, not 0.9"),
        (
            {"split": {"by": "counts", "train": 1, "validation": 1, "test": 1}, "max_per_class": 5},
            "max_per_class",
        ),
    ],
)
def test_split_settings_that_cannot_work_are_config_errors(dataset, message):
    with pytest.raises(ConfigError, match=message):
        resolved(**dataset)


def test_defaults_follow_the_source():
    assert resolved()[0] == {
        "by": "fractions", "train": 0.7, "validation": 0.15, "test": 0.15, "seed": 0,
        "max_per_class": None, "max_pixels": 89_478_485,
    }  # fmt: skip
    tfds = dataset_settings({"source": "tfds:stanford_dogs"})
    assert tfds.labels["from"] == "split_lists" and tfds.split["by"] == "lists"
    assert tfds.split["validation"] == 0.15
    with pytest.raises(ConfigError, match="needs the SHA-256"):
        dataset_settings({"source": "url:https://example.org/a.zip"})
    with pytest.raises(ConfigError, match="other sources take none"):
        dataset_settings({"source": "dir:x", "sha256": "0" * 64})


def test_an_unreadable_last_file_keeps_its_slot_in_the_ranges(kaggle, tmp_path):
    (kaggle / "train" / "dog.24.jpg").write_bytes(b"")  # the last dog: index 24
    manifest = run_split(
        kaggle, tmp_path,
        labels={"from": "file_name", "root": "train", "pattern": r"(?P<class>cat|dog)\.\d+\.jpg"},
        split={"by": "ranges", "train": [0, 10], "validation": [10, 15], "test": [15, 25]},
    )  # fmt: skip
    assert numbers(manifest, "test", "dog") == list(range(15, 24))


def test_split_folders_keep_the_data_sets_own_split(tmp_path):
    """train/<class>/, val/<class>/, test/<class>/: the folders are the split."""
    for split, count in {"train": 6, "val": 3, "test": 2}.items():
        for name in ("cat", "dog"):
            for index in range(count):
                image(tmp_path / "top" / split / name / f"{index}.jpg", index * 20)
    image(tmp_path / "top" / "extra" / "cat" / "0.jpg", 0)  # not a split folder
    manifest = run_split(tmp_path / "top", tmp_path, labels={"from": "split_folders"})
    counts = manifest.groupby(["split", "class"]).size().unstack()
    assert counts.to_dict() == {
        "cat": {"test": 2, "train": 6, "validation": 3},
        "dog": {"test": 2, "train": 6, "validation": 3},
    }
    assert manifest.loc[manifest["split"] == "test", "file"].str.startswith("test/").all()
    inventory = pd.read_csv(tmp_path / "inventory.csv")
    extra = inventory[inventory["source"] == "extra/cat/0.jpg"].iloc[0]
    assert extra["status"] == "ignored" and "not a split" in extra["reason"]


def test_a_single_class_stops_the_split_in_one_line(kaggle, tmp_path):
    labels = {"from": "file_name", "root": "train", "pattern": r"(?P<class>cat)\.\d+\.jpg"}
    with pytest.raises(
        ValueError, match=r"^dataset.labels .*at least two classes, found only 'cat'"
    ):
        run_split(kaggle, tmp_path, labels=labels)


# -- class folders seen at plan time (ablate.data.labels.check_class_folders) ---------------

FOLDERS = {"from": "folders", "root": ""}


def test_split_folders_taken_for_classes_are_refused_with_both_ways_out(tmp_path):
    for split in ("train", "test1"):
        for name in ("cat", "dog"):
            (tmp_path / "kaggle" / split / name).mkdir(parents=True)
    with pytest.raises(ValueError) as error:
        check_class_folders("dir:kaggle", FOLDERS, tmp_path)
    assert str(error.value) == (
        f"config key 'dataset.source' ({tmp_path / 'kaggle'}): the folders test1, train in "
        "its top look like splits, not classes. With class folders inside each split folder, "
        "set dataset.labels: {from: split_folders}; to use the class folders of one of them, "
        "set dataset.labels.root (e.g. root: train)."
    )
    # what the message proposes works
    check_class_folders("dir:kaggle", {"from": "folders", "root": "train"}, tmp_path)
    check_class_folders("dir:kaggle", {"from": "split_folders", "root": ""}, tmp_path)


def test_split_like_folders_under_a_root_name_that_root(tmp_path):
    for split in ("Validation", "dev"):
        (tmp_path / "data" / "images" / split).mkdir(parents=True)
    with pytest.raises(ValueError, match=r"the folders Validation, dev in images look like "
                       r"splits.*\(e\.g\. root: Validation\)\.$"):  # fmt: skip
        check_class_folders("dir:data", {"from": "folders", "root": "images"}, tmp_path)


def test_one_split_like_name_among_classes_is_a_class(tmp_path):
    for name in ("dev", "cat", ".git"):  # a class may be called dev; hidden folders are not
        (tmp_path / "images" / name).mkdir(parents=True)
    (tmp_path / "images" / "train").write_text("a file, not a folder")
    check_class_folders("dir:images", FOLDERS, tmp_path)


def test_a_single_class_folder_is_refused_under_its_root(tmp_path):
    (tmp_path / "data" / "images" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "images" / ".cache").mkdir()
    with pytest.raises(ValueError) as error:
        check_class_folders("dir:data", {"from": "folders", "root": "images"}, tmp_path)
    assert str(error.value) == (
        f"config key 'dataset.source' ({tmp_path / 'data' / 'images'}): a classifier needs at "
        "least two classes, found only 'cat' (under images); add class folders or point "
        "dataset.labels.root at the folder that holds them."
    )


def test_a_single_class_folder_at_the_top_names_no_root(tmp_path):
    (tmp_path / "odd:name" / "cat").mkdir(parents=True)  # a colon in the folder's name
    with pytest.raises(ValueError) as error:
        check_class_folders("dir:odd:name", FOLDERS, tmp_path)
    assert str(error.value).endswith(
        "a classifier needs at least two classes, found only 'cat'; add class folders or "
        "point dataset.labels.root at the folder that holds them."
    )


def test_only_a_dir_source_with_class_folders_is_looked_at_before_the_download(tmp_path):
    (tmp_path / "one" / "cat").mkdir(parents=True)
    check_class_folders("url:https://example.org/one", FOLDERS, tmp_path)  # not fetched yet
    check_class_folders("dir:one", {"from": "file_name", "root": ""}, tmp_path)
    check_class_folders("dir:missing", FOLDERS, tmp_path)  # the download step names it
    (tmp_path / "empty").mkdir()
    check_class_folders("dir:empty", FOLDERS, tmp_path)  # still to be filled?
    with pytest.raises(ValueError, match="found only 'cat'"):
        check_class_folders("dir:one", FOLDERS, tmp_path)


def test_a_listing_names_up_to_eight_entries(tmp_path):
    assert _listing(tmp_path) == "nothing"
    for index in range(8):
        (tmp_path / f"f{index}").write_text("")
    (tmp_path / "a").mkdir()
    assert _listing(tmp_path) == "a/, f0, f1, f2, f3, f4, f5, f6, ..."
    (tmp_path / "f7").unlink()
    assert _listing(tmp_path) == "a/, f0, f1, f2, f3, f4, f5, f6"


def test_list_labelled_accounts_for_every_entry_under_the_top_with_its_reason(tmp_path):
    """Under a root (images/), with things beside it: each entry is listed once, as an
    image with its class or as ignored with why; Snakemake's own mark is neither."""
    top = tmp_path / "top"
    for name in ("cat", "NA"):
        image(top / "images" / name / "0.png", 10)
        image(top / "images" / name / "1.png", 20)
    (top / "images" / "notes.txt").write_text("beside the class folders")
    (top / "LICENSE").write_text("outside the root")
    (top / "images" / "cat" / ".DS_Store").write_text("")
    (top / "images" / "cat" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (top / SNAKEMAKE_MARK).write_text("")
    images, ignored = list_labelled(top, {"from": "folders", "root": "./images/"})
    assert images.columns[:2].tolist() == ["source", "class"]
    assert images[["source", "class"]].values.tolist() == [
        ["images/NA/0.png", "NA"], ["images/NA/1.png", "NA"],
        ["images/cat/0.png", "cat"], ["images/cat/1.png", "cat"],
    ]  # fmt: skip
    assert images["class"].map(type).eq(str).all() and images.index.tolist() == [0, 1, 2, 3]
    assert ignored.columns.tolist() == IGNORED_COLUMNS
    assert ignored.values.tolist() == [
        ["LICENSE", "outside images/"],  # the root as written: ./images/
        ["images/cat/.DS_Store", "hidden"],
        ["images/cat/gone.png", f"broken symbolic link to {tmp_path / 'nowhere.png'}"],
        ["images/notes.txt", "not inside a class folder"],
    ]
    assert ignored.index.tolist() == [0, 1, 2, 3]
