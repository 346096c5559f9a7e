"""Images that should not be where they are: the same bytes under two classes (conflicting
labels), and test images that are near-copies of training or validation images (leaks).

Near-copies are found in two stages. First perceptual hashes (``imagehash.phash``: the
signs of an image's lowest 8x8 DCT frequencies against their median, 64 bits): a JPEG
re-encoding, a resize or a shift by a pixel or two keeps most bits, unrelated photos
differ in about half. Hashes are computed once per image; the test x other comparison is
one XOR and bit count per chunk of test images (NumPy), so a CIFAR-10-sized split takes
seconds. Hashes alone also pair distinct but similar images (two writers' 1s in the
digits), so each candidate pair is then confirmed on 32x32 grayscale thumbnails: the best
correlation over shifts of up to two pixels must reach ``MIN_CORRELATION``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

CONFLICT_COLUMNS = ["sha256", "file", "class", "split"]
NEAR_DUPLICATE_COLUMNS = [
    "test_file", "test_class", "other_file", "other_split", "other_class", "distance",
    "correlation",
]  # fmt: skip
# Hamming distance (of 64 bits) up to which a pair is a candidate, and the thumbnail
# correlation that confirms it. Measured (tests/test_duplicates.py): re-encoded, resized
# and shifted copies correlate above 0.99; distinct builtin digits reach 0.98 in about 1
# of 20,000 pairs, and both thresholds together in about 1 of 1,000,000.
MAX_DISTANCE = 16
MIN_CORRELATION = 0.99
SHIFT = 2  # pixels of the 32x32 thumbnails
THUMBNAIL = 32
# Candidates kept per test image (the closest): a blank image can be close to thousands.
PER_TEST_IMAGE = 16
CHUNK = 1024  # test images compared at once: CHUNK x (train + validation) bytes


def conflicting_labels(manifest: pd.DataFrame) -> pd.DataFrame:
    """Every image whose exact bytes also appear under another class, wherever it is."""
    classes = manifest.groupby("sha256")["class"].transform("nunique")
    conflicts = manifest.loc[classes > 1, CONFLICT_COLUMNS]
    return conflicts.sort_values(["sha256", "class", "file"]).reset_index(drop=True)


def fingerprints(paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """((N, 8) uint8: each image's 64-bit pHash, packed; (N, 32, 32) uint8 grayscale
    thumbnails), each image decoded once."""
    import imagehash
    from PIL import Image

    hashes = np.zeros((len(paths), 8), dtype=np.uint8)
    thumbnails = np.zeros((len(paths), THUMBNAIL, THUMBNAIL), dtype=np.uint8)
    for row, path in enumerate(paths):
        with Image.open(path) as image:
            gray = image.convert("L")
            hashes[row] = np.packbits(imagehash.phash(gray).hash)
            small = gray.resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)
            thumbnails[row] = np.asarray(small)
    return hashes, thumbnails


def shifted_correlation(first: np.ndarray, second: np.ndarray, shift: int = SHIFT) -> np.ndarray:
    """Per pair of thumbnails (two (N, H, W) stacks), the highest Pearson correlation of
    their overlapping parts over every shift of up to ``shift`` pixels in each direction.

    Window sums come from running row sums, so each shift costs one product sum (float32
    on centred pixels: exact enough, several times faster than float64)."""
    first, second = (_centred(stack) for stack in (first, second))
    size = first.shape[1]
    sums = [_integral(first), _integral(first**2), _integral(second), _integral(second**2)]
    best = np.full(len(first), -1.0)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            ya, xa = slice(max(dy, 0), size + min(dy, 0)), slice(max(dx, 0), size + min(dx, 0))
            yb, xb = slice(max(-dy, 0), size + min(-dy, 0)), slice(max(-dx, 0), size + min(-dx, 0))
            count = (size - abs(dy)) * (size - abs(dx))
            sa, saa = (_window(table, ya, xa) for table in sums[:2])
            sb, sbb = (_window(table, yb, xb) for table in sums[2:])
            sab = np.einsum("nij,nij->n", first[:, ya, xa], second[:, yb, xb], dtype=np.float32)
            spread = (saa - sa * sa / count) * (sbb - sb * sb / count)
            # A flat patch has no pattern to correlate: it matches nothing by this measure.
            value = np.divide(
                sab - sa * sb / count, np.sqrt(np.maximum(spread, 0)),
                out=np.zeros(len(first)), where=spread > 1e-6,
            )  # fmt: skip
            best = np.maximum(best, value)
    return best


def _centred(stack: np.ndarray) -> np.ndarray:
    pixels = stack.astype(np.float32)
    return pixels - pixels.mean(axis=(1, 2), keepdims=True)


def _integral(stack: np.ndarray) -> np.ndarray:
    """Running sums along each row (float64), with a leading column of zeros."""
    count, height, width = stack.shape
    table = np.zeros((count, height, width + 1))
    np.cumsum(stack, axis=2, dtype=np.float64, out=table[:, :, 1:])
    return table


def _window(table: np.ndarray, rows: slice, columns: slice) -> np.ndarray:
    return (table[:, rows, columns.stop] - table[:, rows, columns.start]).sum(axis=1)


def near_pairs(
    test: np.ndarray, other: np.ndarray, max_distance: int = MAX_DISTANCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(test index, other index, distance) of every pair within ``max_distance`` bits,
    at most ``PER_TEST_IMAGE`` closest per test image; hashes as ``perceptual_hashes``."""
    words = other.view(">u8").ravel()
    found = []
    for start in range(0, len(test), CHUNK):
        chunk = test[start : start + CHUNK].view(">u8").ravel()
        distance = np.bitwise_count(chunk[:, None] ^ words[None, :])
        rows, columns = np.nonzero(distance <= max_distance)
        found.append((rows + start, columns, distance[rows, columns]))
    if not found:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    rows, columns, distances = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.lexsort((columns, distances, rows))
    rows, columns, distances = rows[order], columns[order], distances[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)  # position within its test image
    keep = rank < PER_TEST_IMAGE
    return rows[keep], columns[keep], distances[keep].astype(np.int64)


def near_duplicates(manifest: pd.DataFrame, split_dir: str | Path) -> pd.DataFrame:
    """Test images that are near-copies of a train or validation image, one row per pair
    (``NEAR_DUPLICATE_COLUMNS``): perceptual hashes within ``MAX_DISTANCE`` bits, thumbnails
    correlated at ``MIN_CORRELATION`` or more."""
    hashes, thumbnails = fingerprints([Path(split_dir) / file for file in manifest["file"]])
    is_test = (manifest["split"] == "test").to_numpy()
    test, other = manifest[is_test], manifest[~is_test]
    rows, columns, distances = near_pairs(hashes[is_test], hashes[~is_test])
    test_thumbnails, other_thumbnails = thumbnails[is_test], thumbnails[~is_test]
    correlation = np.zeros(len(rows), dtype=np.float32)
    for start in range(0, len(rows), CHUNK):
        part = slice(start, start + CHUNK)
        correlation[part] = shifted_correlation(
            test_thumbnails[rows[part]], other_thumbnails[columns[part]]
        )
    keep = correlation >= MIN_CORRELATION
    rows, columns, distances, correlation = (
        rows[keep], columns[keep], distances[keep], correlation[keep]
    )  # fmt: skip
    pairs = pd.DataFrame(
        {
            "test_file": test["file"].to_numpy()[rows],
            "test_class": test["class"].to_numpy()[rows],
            "other_file": other["file"].to_numpy()[columns],
            "other_split": other["split"].to_numpy()[columns],
            "other_class": other["class"].to_numpy()[columns],
            "distance": distances,
            "correlation": np.round(correlation, 4),
        },
        columns=NEAR_DUPLICATE_COLUMNS,
    )
    return pairs


def report(manifest: pd.DataFrame, split_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(conflicting labels, near-duplicate pairs), each logged as a warning with its count."""
    conflicts = conflicting_labels(manifest)
    if not conflicts.empty:
        log.warning(
            "conflicting labels: %d image(s) have the same bytes as an image of another "
            "class (%d distinct images); see conflicting_labels.csv",
            len(conflicts), conflicts["sha256"].nunique(),
        )  # fmt: skip
    pairs = near_duplicates(manifest, split_dir)
    if not pairs.empty:
        log.warning(
            "near-duplicates: %d test image(s) look like a train or validation image "
            "(re-encoded, resized or shifted copies); see near_duplicates.csv",
            pairs["test_file"].nunique(),
        )  # fmt: skip
    return conflicts, pairs
