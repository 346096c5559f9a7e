"""Every image accounted for, through the real snakemake: a 'dir:' source laid out the way
people keep images (nested folders, a linked class, classes named NA and null, a 16-bit
BMP, an oversized scan, a read-me, hidden files, the same image under two classes) is
split and decoded once; each file of it ends in exactly one place of the inventory, the
user's files are unchanged, and a changed source makes the split out of date."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import snakemake, tiny_config, write_config
from PIL import Image

from ablate import paths
from ablate.data.inventory import walk
from ablate.data.manifest import class_names, read_manifest

STUDY = "tiny"
# The train split's arrays: the split and one decode (TensorFlow starts once).
TARGETS = [
    paths.fill(pattern, study=STUDY, split="train")
    for pattern in (paths.ARRAY_IMAGES, paths.ARRAY_LABELS)
]
CLASSES = ["NA", "bird", "cat", "dog", "null"]


def png(path: Path, seed: int, size: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def bmp16(path: Path, width: int = 8, height: int = 8) -> None:
    """A 16-bit (5-5-5) BMP: Pillow reads it, TensorFlow's decoder refuses it."""
    row = (width * 2 + 3) // 4 * 4
    pixels = b"".join(struct.pack("<H", (x * 3) << 10 | (y * 3) << 5) for y in range(height)
                      for x in range(width))  # fmt: skip
    data = b"".join(pixels[y * width * 2 : (y + 1) * width * 2].ljust(row, b"\0")
                    for y in range(height))  # fmt: skip
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 16, 0, len(data), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + 40 + len(data), 0, 0, 14 + 40)
    path.write_bytes(header + info + data)


def digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def make_source(top: Path) -> Path:
    source = top / "photos"
    for index in range(12):  # cat keeps its images one level down, by year
        png(source / "cat" / str(2023 + index % 2) / f"c{index}.png", 100 + index)
        png(source / "dog" / f"d{index}.png", 200 + index)
        png(source / "NA" / f"n{index}.png", 300 + index)
        png(source / "null" / f"u{index}.png", 400 + index)
        png(top / "elsewhere" / "bird" / f"b{index}.png", 500 + index)
    (source / "bird").symlink_to(top / "elsewhere" / "bird", target_is_directory=True)
    (top / "elsewhere" / "bird" / "again").symlink_to(".", target_is_directory=True)
    bmp16(top / "elsewhere" / "bird" / "deep.bmp")
    png(source / "dog" / "scan.png", 7, size=120)  # over max_pixels below
    (source / "NA" / "n0.png").write_bytes((source / "null" / "u0.png").read_bytes())
    (source / "dog" / "README.txt").write_text("photos of my dog")
    (source / "dog" / ".DS_Store").write_bytes(b"\0\1")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (source / "notes.txt").write_text("not in a class folder")
    return source


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(workdir, source, source digests before) after one split and decode."""
    top = tmp_path_factory.mktemp("inventory")
    source = make_source(top / "data")
    before = digests(top / "data")
    config = tiny_config(design="list", cells=[{}], seeds=[1])
    config["dataset"] = {
        "source": f"dir:{source}", "image_size": [8, 8], "color_mode": "rgb",
        "max_pixels": 10_000, "split": {"seed": 3},
    }  # fmt: skip
    workdir = top / "run"
    write_config(workdir, config)
    snakemake(workdir, "--cores", "2", *TARGETS)
    return workdir, source, before


def data(workdir: Path, pattern: str) -> Path:
    return workdir / paths.fill(pattern, study=STUDY)


def test_every_file_is_in_exactly_one_place_of_the_inventory(study):
    workdir, source, before = study
    inventory = pd.read_csv(data(workdir, paths.INVENTORY), dtype=str, keep_default_na=False)
    expected = [entry.path for entry in walk(source)]
    assert sorted(inventory["source"]) == sorted(expected)  # each once, nothing else
    status = dict(zip(inventory["source"], inventory["status"], strict=True))
    reason = dict(zip(inventory["source"], inventory["reason"], strict=True))
    assert status["cat/2023/c0.png"] == status["bird/b3.png"] == "used"
    assert status["bird/deep.bmp"] == "converted" and "BMP" in reason["bird/deep.bmp"]
    assert status["dog/scan.png"] == "quarantined"
    assert "120x120 is 14,400 pixels, over dataset.max_pixels (10,000)" in reason["dog/scan.png"]
    assert (status["dog/README.txt"], reason["dog/README.txt"]) == ("ignored", "not an image")
    assert (status["dog/.DS_Store"], reason["dog/.DS_Store"]) == ("ignored", "hidden")
    assert (status[".git/"], reason[".git/"]) == ("ignored", "hidden")
    assert reason["notes.txt"] == "not inside a class folder"
    assert status["bird/again/"] == "ignored" and "link loop" in reason["bird/again/"]
    log = data(workdir, paths.log("split")).read_text()
    assert "60 used, 1 converted, 1 quarantined, 5 ignored" in log
    assert digests(source.parent) == before  # the user's files are never modified


def test_nested_linked_and_na_named_classes_are_classes(study):
    workdir, _, _ = study
    manifest = read_manifest(data(workdir, paths.MANIFEST))
    assert class_names(data(workdir, paths.MANIFEST)) == CLASSES
    sizes = manifest.groupby("class").size().to_dict()
    assert sizes == {"NA": 12, "bird": 13, "cat": 12, "dog": 12, "null": 12}
    labels = np.load(data(workdir, paths.fill(paths.ARRAY_LABELS, split="train")))
    assert sorted(set(labels.tolist())) == list(range(len(CLASSES)))
    images = np.load(data(workdir, paths.fill(paths.ARRAY_IMAGES, split="train")))
    assert images.shape == (int((manifest["split"] == "train").sum()), 8, 8, 3)
    # The 16-bit BMP (which TensorFlow cannot decode) was converted and decoded.
    deep = manifest[manifest["file"].str.endswith("/deep.png")]
    assert deep[["split", "class"]].values.tolist() == [["train", "bird"]]


def test_the_same_bytes_under_two_classes_are_listed(study):
    workdir, _, _ = study
    conflicts = pd.read_csv(data(workdir, paths.CONFLICTING_LABELS), dtype=str,
                            keep_default_na=False)  # fmt: skip
    assert list(conflicts.columns) == ["sha256", "file", "class", "split"]
    assert sorted(conflicts["class"]) == ["NA", "null"]
    assert conflicts["sha256"].nunique() == 1
    assert "conflicting labels: 2 image(s)" in data(workdir, paths.log("split")).read_text()
    pairs = pd.read_csv(data(workdir, paths.NEAR_DUPLICATES))
    assert list(pairs.columns)[:4] == ["test_file", "test_class", "other_file", "other_split"]


def test_a_changed_source_makes_the_split_out_of_date(study):
    """Runs last in this module: it changes the shared source."""
    workdir, source, _ = study
    assert "Nothing to be done" in dry_run(workdir)
    old = (source / "dog" / "d1.png").read_bytes()
    png(source / "dog" / "d1.png", 999)  # rewritten in place
    planned = dry_run(workdir)
    for rule in ("download", "split", "decode"):
        assert f"rule {rule}:" in planned, planned
    assert "Params have changed" in planned
    # The study's copy is unchanged: the split holds what it was made from.
    manifest = read_manifest(data(workdir, paths.MANIFEST))
    row = manifest[manifest["file"].str.endswith("/dog/d1.png")].iloc[0]
    copy = data(workdir, paths.SPLIT) / row["file"]
    assert copy.read_bytes() == old
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == row["sha256"]
    (source / "dog" / "d1.png").write_bytes(old)
    (source / "horse").mkdir()
    png(source / "horse" / "h0.png", 1)  # a class folder added
    assert "rule split:" in dry_run(workdir)


def dry_run(workdir: Path) -> str:
    result = snakemake(workdir, "-n", *TARGETS)
    return result.stdout + result.stderr


def test_a_split_like_layout_is_refused_at_plan_time_in_one_line(tmp_path):
    for split in ("train", "test1"):
        for name in ("cat", "dog"):
            png(tmp_path / "kaggle" / split / name / "0.png", 0)
    config = tiny_config()
    config["dataset"] = {"source": f"dir:{tmp_path / 'kaggle'}"}
    write_config(tmp_path / "run", config)
    result = snakemake(tmp_path / "run", "-n", check=False)
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "look like" in line]
    assert len(lines) == 1, result.stderr
    assert "test1, train" in lines[0] and "from: split_folders" in lines[0]
    assert "root: train" in lines[0] and "config.yaml" in lines[0]
    assert not os.path.exists(tmp_path / "run" / "results")


def test_the_fingerprint_follows_names_sizes_and_times_not_hidden_files(tmp_path):
    from ablate.data.inventory import fingerprint

    png(tmp_path / "cat" / "0.png", 0)
    (tmp_path / "cat" / "loop").symlink_to(".", target_is_directory=True)
    first = fingerprint(tmp_path)
    assert first.startswith("1 files, sha256 ")
    (tmp_path / ".DS_Store").write_text("x")
    assert fingerprint(tmp_path) == first
    os.utime(tmp_path / "cat" / "0.png", ns=(1, 1))
    second = fingerprint(tmp_path)
    assert second != first
    (tmp_path / "cat" / "0 copy.png").write_bytes(b"")
    assert fingerprint(tmp_path) not in (first, second)
