"""Near-duplicate leaks (perceptual hashes, confirmed on thumbnails) and conflicting
labels, found when the split is made."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_digits, load_sample_images

from ablate.data.duplicates import conflicting_labels, near_duplicates, near_pairs
from ablate.data.sources import DIGITS_SIZE


def save(image: Image.Image, path: Path, **options) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)
    return path.relative_to(path.parents[2]).as_posix()


def photo_crops(count: int) -> list[Image.Image]:
    """Crops of scikit-learn's two sample photographs: real image content, offline."""
    photos = [Image.fromarray(pixels) for pixels in load_sample_images().images]
    rng = np.random.default_rng(0)
    boxes = [(rng.integers(0, 500), rng.integers(0, 300)) for _ in range(count)]
    return [photos[k % 2].crop((x, y, x + 100, y + 100)) for k, (x, y) in enumerate(boxes)]


def test_reencoded_resized_and_shifted_copies_in_test_are_found(tmp_path):
    crops = photo_crops(40)
    rows = []
    for index, crop in enumerate(crops):  # train: 64x64 PNGs
        file = save(crop.resize((64, 64)), tmp_path / "train" / "photo" / f"{index}.png")
        rows.append({"file": file, "class": "photo", "split": "train"})
    photos = [Image.fromarray(pixels) for pixels in load_sample_images().images]
    copies = {
        "jpeg": Image.open(io.BytesIO(_jpeg(crops[0].resize((64, 64)), 40))),
        "smaller": crops[1].resize((48, 48)),
        "larger": crops[2].resize((96, 96)),
        "shifted": _shifted(photos, crops, 3, dx=2, dy=1),  # 2 and 1 of 100 source pixels
    }
    for name, copy in copies.items():
        file = save(copy, tmp_path / "test" / "photo" / f"{name}.png")
        rows.append({"file": file, "class": "photo", "split": "test"})
    for index, crop in enumerate(photo_crops(60)[40:]):  # unrelated test images
        file = save(crop.resize((64, 64)), tmp_path / "test" / "photo" / f"other{index}.png")
        rows.append({"file": file, "class": "photo", "split": "test"})
    pairs = near_duplicates(pd.DataFrame(rows), tmp_path)
    found = dict(zip(pairs["test_file"], pairs["other_file"], strict=True))
    assert found == {
        "test/photo/jpeg.png": "train/photo/0.png",
        "test/photo/smaller.png": "train/photo/1.png",
        "test/photo/larger.png": "train/photo/2.png",
        "test/photo/shifted.png": "train/photo/3.png",
    }
    assert (pairs["other_split"] == "train").all() and (pairs["correlation"] >= 0.99).all()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _shifted(photos, crops, index: int, dx: int, dy: int) -> Image.Image:
    rng = np.random.default_rng(0)
    boxes = [(rng.integers(0, 500), rng.integers(0, 300)) for _ in range(index + 1)]
    x, y = boxes[index]
    return photos[index % 2].crop((x + dx, y + dy, x + dx + 100, y + dy + 100)).resize((64, 64))


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The 1,797 builtin digits as 32x32 PNGs; 270 in test, the rest train/validation."""
    root = tmp_path_factory.mktemp("digits")
    data = load_digits()
    order = np.random.default_rng(1).permutation(len(data.images))
    rows = []
    for rank, index in enumerate(order):
        split = "test" if rank < 270 else ("validation" if rank < 540 else "train")
        pixels = np.round(data.images[index] * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(pixels, mode="L").resize((DIGITS_SIZE,) * 2, Image.BICUBIC)
        file = save(image, root / split / str(data.target[index]) / f"{index}.png")
        rows.append({"file": file, "class": str(data.target[index]), "split": split})
    return root, pd.DataFrame(rows)


def test_distinct_digits_are_not_flagged_but_their_copies_are(digits, tmp_path):
    root, manifest = digits
    pairs = near_duplicates(manifest, root)
    # Measured: 0 to 2 flagged of 412,000 test x train pairs, depending on the split.
    assert len(pairs) <= 2, pairs
    train = manifest[manifest["split"] == "train"].head(40)
    copies = []
    for row, file in enumerate(train["file"]):
        with Image.open(root / file) as image:
            copy = [_jpeg(image.convert("RGB"), 30), None][row % 2]
            copy = Image.open(io.BytesIO(copy)) if copy else image.resize((40, 40))
            name = save(copy.convert("L"), tmp_path / "test" / "copy" / f"{row}.png")
            copies.append({"file": name, "class": "copy", "split": "test"})
    others = manifest[manifest["split"] != "test"].copy()
    others["file"] = [str(root / file) for file in others["file"]]
    leaked = near_duplicates(pd.concat([others, pd.DataFrame(copies)]), tmp_path)
    assert leaked["test_file"].nunique() == 40


def test_a_cifar_sized_comparison_finds_the_copies_in_every_chunk():
    """10,000 test against 50,000 other hashes: 500 million Hamming distances, compared
    1,024 test hashes at a time (its speed: bench/near_duplicates.py)."""
    rng = np.random.default_rng(0)
    other = rng.integers(0, 256, (50_000, 8), dtype=np.uint8)
    test = rng.integers(0, 256, (10_000, 8), dtype=np.uint8)
    test[:5] = other[:5] ^ np.array([1, 0, 0, 0, 0, 0, 0, 0], dtype=np.uint8)  # one bit off
    test[-1] = other[-1]  # the last chunk's last row: an exact copy
    rows, columns, distances = near_pairs(test, other)
    found = set(zip(rows.tolist(), columns.tolist(), distances.tolist(), strict=True))
    assert (9_999, 49_999, 0) in found
    hits = {(row, column) for row, column, _ in found}
    assert {(k, k) for k in range(5)} <= hits
    assert distances[(rows == columns) & (rows < 5)].tolist() == [1] * 5


def test_conflicting_labels_are_listed_wherever_they_fall():
    manifest = pd.DataFrame({
        "file": ["train/cat/a.png", "test/dog/a.png", "train/cat/b.png", "train/cat/c.png"],
        "class": ["cat", "dog", "cat", "cat"],
        "split": ["train", "test", "train", "train"],
        "sha256": ["x", "x", "y", "y"],  # b and c: the same bytes, the same class
    })  # fmt: skip
    conflicts = conflicting_labels(manifest)
    assert conflicts.to_dict("list") == {
        "sha256": ["x", "x"], "file": ["train/cat/a.png", "test/dog/a.png"],
        "class": ["cat", "dog"], "split": ["train", "test"],
    }  # fmt: skip
