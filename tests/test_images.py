"""Bad images are checked once at split time: converted, or left out with the reason."""

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ablate.data.images import inspect_image
from ablate.data.sources import fetch
from ablate.data.split import split_dataset

SPLIT = {"by": "fractions", "train": 0.6, "validation": 0.2, "test": 0.2, "seed": 1,
         "max_per_class": None}  # fmt: skip


def jpeg_bytes(mode="RGB", size=(24, 24)):
    buffer = io.BytesIO()
    Image.new(mode, size, 120 if mode == "L" else None).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_bad_images(folder: Path) -> dict[str, str]:
    """One file of each kind in ``folder``; returns name -> expected outcome."""
    folder.mkdir(parents=True)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "truncated.jpg").write_bytes(jpeg_bytes()[:300])
    (folder / "notes.jpg").write_text("not an image at all")
    (folder / "png_named.jpg").write_bytes(Image.new("RGB", (24, 24)).tobytes())  # raw bytes
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), (1, 2, 3)).save(buffer, format="PNG")
    (folder / "really_png.jpg").write_bytes(buffer.getvalue())
    Image.new("CMYK", (24, 24), (10, 20, 30, 40)).save(folder / "cmyk.jpg")
    Image.new("L", (24, 24), 90).save(folder / "gray.png")
    Image.new("RGBA", (24, 24), (9, 9, 9, 128)).save(folder / "alpha.png")
    Image.fromarray(np.full((24, 24), 40000, dtype=np.uint16)).save(folder / "deep.png")
    frames = [Image.new("RGB", (24, 24), (level, 0, 0)) for level in (0, 120, 240)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:])
    Image.new("RGB", (24, 24), (200, 10, 10)).save(folder / "fine.jpg")
    return {
        "empty.jpg": "dropped", "truncated.jpg": "dropped", "notes.jpg": "dropped",
        "png_named.jpg": "dropped", "really_png.jpg": "converted", "cmyk.jpg": "converted",
        "gray.png": "as is", "alpha.png": "converted", "deep.png": "converted",
        "animated.gif": "converted", "fine.jpg": "as is",
    }  # fmt: skip


def test_each_kind_of_bad_image_is_recognised(tmp_path):
    expected = write_bad_images(tmp_path / "x")
    for name, outcome in expected.items():
        check = inspect_image(tmp_path / "x" / name)
        assert check.usable == (outcome != "dropped"), (name, check)
        assert check.needs_conversion == (outcome == "converted"), (name, check)
    assert "0 bytes" in inspect_image(tmp_path / "x" / "empty.jpg").problems[0]
    assert (
        "PNG content behind a '.jpg'"
        in inspect_image(tmp_path / "x" / "really_png.jpg").problems[0]
    )
    assert inspect_image(tmp_path / "x" / "cmyk.jpg").problems == ["mode CMYK"]
    assert "animated (3 frames)" in inspect_image(tmp_path / "x" / "animated.gif").problems


def test_split_quarantines_unreadable_files_and_converts_the_rest(tmp_path):
    source = tmp_path / "source"
    expected = write_bad_images(source / "mixed")
    for name in ("cat", "dog"):  # two healthy classes for the stratified split
        (source / name).mkdir()
        for index in range(10):
            Image.new("RGB", (24, 24), (index * 20, 0, 0)).save(source / name / f"{index}.png")
    before = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in source.rglob("*") if p.is_file()
    }

    fetch(f"dir:{source}", tmp_path / "raw")
    manifest = split_dataset(
        tmp_path / "raw", tmp_path / "split", tmp_path / "manifest.csv", SPLIT,
        quarantine_path=tmp_path / "quarantine.csv",
    )  # fmt: skip
    quarantine = pd.read_csv(tmp_path / "quarantine.csv")
    dropped = {name for name, outcome in expected.items() if outcome == "dropped"}
    assert {Path(s).name for s in quarantine["source"]} == dropped
    assert quarantine["reason"].str.len().gt(0).all()
    mixed = manifest[manifest["class"] == "mixed"]
    assert len(mixed) == len(expected) - len(dropped)
    for file in mixed["file"]:
        with Image.open(tmp_path / "split" / file) as image:
            assert image.format in ("PNG", "JPEG") and image.mode in ("RGB", "L")
            assert Path(file).suffix == {"PNG": ".png", "JPEG": ".jpg"}[image.format]
    # The user's folder is untouched; images usable as they are are copies (not hard links:
    # rewriting the source later must not change the study's split).
    after = {
        p: hashlib.sha256(p.read_bytes()).hexdigest() for p in source.rglob("*") if p.is_file()
    }
    assert after == before
    healthy = manifest[manifest["class"] == "cat"].iloc[0]
    linked = tmp_path / "split" / healthy["file"]
    assert os.stat(linked).st_ino != os.stat(source / "cat" / linked.name).st_ino
    assert linked.read_bytes() == (source / "cat" / linked.name).read_bytes()


def test_a_class_with_only_unreadable_files_is_named(tmp_path, caplog):
    for name in ("cat", "dog"):
        (tmp_path / "raw" / name).mkdir(parents=True)
    for index in range(6):
        Image.new("RGB", (8, 8)).save(tmp_path / "raw" / "cat" / f"{index}.png")
        (tmp_path / "raw" / "dog" / f"{index}.jpg").write_bytes(b"")
    with pytest.raises(ValueError) as error:
        split_dataset(tmp_path / "raw", tmp_path / "s", tmp_path / "m.csv", SPLIT)
    assert str(error.value) == (
        f"class(es) ['dog'] have no readable image left in {tmp_path / 'raw'}; the log lists "
        "every file left out and why. Fix or remove those classes."
    )
    assert "left out dog/0.jpg: empty file (0 bytes)" in caplog.text


def test_dir_source_must_be_a_folder_with_files(tmp_path):
    with pytest.raises(ValueError, match="is not a folder"):
        fetch(f"dir:{tmp_path / 'missing'}", tmp_path / "raw")
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    with pytest.raises(ValueError, match="no files in"):
        fetch(f"dir:{tmp_path / 'empty'}", tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_an_oversized_image_is_quarantined_by_name_not_a_traceback(tmp_path):
    Image.new("1", (14000, 14000)).save(tmp_path / "scan.png")  # 196 Mpx, a few KB
    check = inspect_image(tmp_path / "scan.png")
    assert not check.usable and check.image
    assert check.problems == [
        "14000x14000 is 196,000,000 pixels, over dataset.max_pixels (89,478,485): "
        "raise it to keep this image"
    ]
    assert inspect_image(tmp_path / "scan.png", max_pixels=200_000_000).usable


def test_a_16_bit_bmp_is_converted_and_other_files_are_not_images(tmp_path):
    from test_inventory import bmp16

    bmp16(tmp_path / "deep.bmp")
    with Image.open(tmp_path / "deep.bmp") as image:
        assert image.format == "BMP" and image.info.get("compression", 0) == 0
    check = inspect_image(tmp_path / "deep.bmp")
    assert check.needs_conversion and "format BMP" in check.problems[0]
    (tmp_path / "README.md").write_text("# photos")
    (tmp_path / "broken.png").write_text("# photos")
    assert inspect_image(tmp_path / "README.md").image is False  # ignored, not quarantined
    assert inspect_image(tmp_path / "broken.png").image is True  # quarantined
