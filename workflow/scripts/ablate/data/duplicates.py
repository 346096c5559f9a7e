"""Images that should not be where they are: the same bytes under two classes (conflicting
labels), and test images that are near-copies of training or validation images (leaks).

Near-copies are found in three steps, on 32x32 grayscale thumbnails of every image:
1. Candidates: each test image's ``NEIGHBOURS`` most similar train/validation images by
   cosine similarity of 8x8 block means (centred: brightness does not count), an exact
   nearest-neighbour search by matrix products in chunks (BLAS), seconds at CIFAR-10's size.
2. Detail: the highest correlation of the two thumbnails' high-pass parts (each minus its
   Gaussian blur) over shifts of up to ``SHIFT`` pixels. Layout and shading are shared by
   many distinct photographs (a ship on a horizon, an object on a white ground); texture
   and edges at the pixel scale are what one photograph shares with its re-encoded,
   shifted, cropped, rescaled or recoloured copy (a tint changes the grey levels, not
   where the edges are). An image without such detail (``MIN_TEXTURE``) is never flagged.
3. Margin: a copy stands out from the test image's other candidates, a look-alike does
   not. Each score is compared with the median score of the same test image's candidates,
   the score normalisation of copy detection (Douze et al. 2021, "The 2021 Image
   Similarity Dataset and Challenge", similarity minus that of the query's neighbours in a
   background set; here the candidates themselves are the background). A data set whose
   distinct images look alike (the builtin digits: 8x8 strokes) has high medians, so its
   look-alikes are not flagged; near-exact copies are flagged whatever the median.
Measured on the real CIFAR-10 (bench/near_duplicates.py, docs/benchmarks.md) and on
generated copies and distinct images (tests/test_duplicates.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

CONFLICT_COLUMNS = ["sha256", "file", "class", "split"]
NEAR_DUPLICATE_COLUMNS = [
    "test_file", "test_class", "other_file", "other_split", "other_class", "correlation",
    "detail", "margin",
]  # fmt: skip
CANDIDATE_COLUMNS = [
    *NEAR_DUPLICATE_COLUMNS[:5], "detail", "margin", "textured", "row", "column",
]  # fmt: skip
THUMBNAIL = 32  # pixels a side
GRID = 8  # block means a side: the candidates' descriptor
NEIGHBOURS = 10  # candidates per test image, and the background of its scores
SHIFT = 4  # pixels of the thumbnails, in each direction
DETAIL_SIGMA = 2.0  # pixels: the Gaussian blur whose residual is the high-pass part
# A pair is a copy when its detail correlation is at least MIN_DETAIL and at least
# MIN_MARGIN above the median of the test image's candidates, or when it is a near-exact
# copy (thumbnails correlated at EXACT_CORRELATION and details at EXACT_DETAIL). Chosen on
# the real CIFAR-10 (the margin rule flags about 3 % of its test set) and on the default
# study's digits, where distinct 1s reach a correlation of 0.996 and a detail of 0.98,
# and a few look-alikes margins of 0.4 to 0.5 (bench/near_duplicates.py).
MIN_DETAIL = 0.6
MIN_MARGIN = 0.45
EXACT_CORRELATION = 0.997
EXACT_DETAIL = 0.96
# Below this standard deviation (grey levels) a thumbnail's high-pass part is noise and
# blur (a clear sky, an out-of-focus background): nothing to tell copies by, so such
# images are never flagged. The real CIFAR-10's test images: 1 % below 9.
MIN_TEXTURE = 4.0
CHUNK = 512  # test images compared at once: CHUNK x (train + validation) similarities


def conflicting_labels(manifest: pd.DataFrame) -> pd.DataFrame:
    """Every image whose exact bytes also appear under another class, wherever it is."""
    classes = manifest.groupby("sha256")["class"].transform("nunique")
    conflicts = manifest.loc[classes > 1, CONFLICT_COLUMNS]
    return conflicts.sort_values(["sha256", "class", "file"]).reset_index(drop=True)


def thumbnails(paths: list[Path]) -> np.ndarray:
    """(N, 32, 32) uint8 grayscale thumbnails, each image decoded once."""
    from PIL import Image

    small = np.zeros((len(paths), THUMBNAIL, THUMBNAIL), dtype=np.uint8)
    for row, path in enumerate(paths):
        with Image.open(path) as image:
            gray = image.convert("L").resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BILINEAR)
            small[row] = np.asarray(gray)
    return small


def descriptors(thumbnails: np.ndarray) -> np.ndarray:
    """(N, GRID * GRID) float32: block means of each thumbnail, centred, of unit length
    (a flat image stays all zeros and is nobody's neighbour)."""
    count, block = len(thumbnails), THUMBNAIL // GRID
    blocks = thumbnails.astype(np.float32).reshape(count, GRID, block, GRID, block)
    means = blocks.mean(axis=(2, 4)).reshape(count, -1)
    means -= means.mean(axis=1, keepdims=True)
    length = np.linalg.norm(means, axis=1, keepdims=True)
    return np.divide(means, length, out=np.zeros_like(means), where=length > 1e-6)


def nearest(test: np.ndarray, other: np.ndarray, count: int = NEIGHBOURS) -> np.ndarray:
    """(len(test), k) indices into ``other`` of each test descriptor's k most similar
    (cosine; k = min(count, len(other))), the most similar first."""
    k = min(count, len(other))
    found = np.zeros((len(test), k), dtype=np.int64)
    for start in range(0, len(test), CHUNK):
        similarity = test[start : start + CHUNK] @ other.T
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
        found[start : start + CHUNK] = np.take_along_axis(top, order, axis=1)
    return found


def high_pass(thumbnails: np.ndarray) -> np.ndarray:
    """Each thumbnail minus its Gaussian blur (float32): edges and texture."""
    from scipy.ndimage import gaussian_filter

    pixels = thumbnails.astype(np.float32)
    return pixels - gaussian_filter(pixels, sigma=(0, DETAIL_SIGMA, DETAIL_SIGMA))


def shifted_correlation(first: np.ndarray, second: np.ndarray, shift: int = SHIFT) -> np.ndarray:
    """Per pair of thumbnails (two (N, H, W) stacks), the highest Pearson correlation of
    their overlapping parts over every shift of up to ``shift`` pixels in each direction.

    Window sums come from running sums (``_windows``), so each shift costs one product sum
    (float32 on centred pixels: exact enough, several times faster than float64)."""
    first, second = (_centred(stack) for stack in (first, second))
    size = first.shape[1]
    sa, saa = _windows(first, shift), _windows(first**2, shift)
    sb, sbb = _windows(second, shift, -1), _windows(second**2, shift, -1)
    best = np.full(len(first), -1.0)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            ya, xa = slice(max(dy, 0), size + min(dy, 0)), slice(max(dx, 0), size + min(dx, 0))
            yb, xb = slice(max(-dy, 0), size + min(-dy, 0)), slice(max(-dx, 0), size + min(-dx, 0))
            count = (size - abs(dy)) * (size - abs(dx))
            a, aa = (sums[dx][:, ya.stop] - sums[dx][:, ya.start] for sums in (sa, saa))
            b, bb = (sums[dx][:, yb.stop] - sums[dx][:, yb.start] for sums in (sb, sbb))
            ab = np.einsum("nij,nij->n", first[:, ya, xa], second[:, yb, xb], dtype=np.float32)
            spread = (aa - a * a / count) * (bb - b * b / count)
            # A flat patch has no pattern to correlate: it matches nothing by this measure.
            value = np.divide(
                ab - a * b / count, np.sqrt(np.maximum(spread, 0)),
                out=np.zeros(len(first)), where=spread > 1e-6,
            )  # fmt: skip
            best = np.maximum(best, value)
    return best


def _centred(stack: np.ndarray) -> np.ndarray:
    pixels = stack.astype(np.float32)
    return pixels - pixels.mean(axis=(1, 2), keepdims=True)


def _windows(stack: np.ndarray, shift: int, sign: int = 1) -> dict[int, np.ndarray]:
    """For each horizontal shift dx, the running sums down the rows (float64, a leading row
    of zeros) of each row's sum over the columns that the shift keeps of this stack (those
    from dx on for ``sign`` 1, up to width - dx for -1): any window's sum is then the
    difference of two of them."""
    count, height, width = stack.shape
    along = np.zeros((count, height, width + 1))
    np.cumsum(stack, axis=2, dtype=np.float64, out=along[:, :, 1:])
    found = {}
    for dx in range(-shift, shift + 1):
        move = sign * dx
        columns = slice(max(move, 0), width + min(move, 0))
        down = np.zeros((count, height + 1))
        np.cumsum(along[:, :, columns.stop] - along[:, :, columns.start], axis=1,
                  out=down[:, 1:])  # fmt: skip
        found[dx] = down
    return found


def texture(thumbnails: np.ndarray) -> np.ndarray:
    """Per thumbnail, the standard deviation of its high-pass part (grey levels); a few
    thousand at a time, so that a large split needs no float copy of all of them."""
    parts = [high_pass(thumbnails[start : start + 8 * CHUNK]).std(axis=(1, 2))
             for start in range(0, len(thumbnails), 8 * CHUNK)]  # fmt: skip
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def scores(test: np.ndarray, other: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(len(test), k) detail correlations of each test thumbnail with its candidates (rows
    of indices into ``other``), CHUNK test images at a time."""
    k = candidates.shape[1]
    found = np.zeros(candidates.shape, dtype=np.float32)
    for start in range(0, len(test), CHUNK):
        part = candidates[start : start + CHUNK]
        first = np.repeat(high_pass(test[start : start + CHUNK]), k, axis=0)
        second = high_pass(other[part.ravel()])
        found[start : start + CHUNK] = shifted_correlation(first, second).reshape(-1, k)
    return found


def background(detail: np.ndarray) -> np.ndarray:
    """(N, 1): the median detail of each test image's own candidates (one row each), what
    a copy must stand out from; a crowd of look-alikes raises it, unrelated images do not."""
    return np.median(detail, axis=1, keepdims=True)


def candidates(manifest: pd.DataFrame, split_dir: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """(every test image's ``NEIGHBOURS`` candidates, one row per pair, the closest first;
    every manifest row's thumbnail). A pair has its test and other file, class and split,
    ``detail``, ``margin`` (over the median of the test image's candidates), ``textured``
    (both images above ``MIN_TEXTURE``), and ``row`` and ``column``: its two manifest rows."""
    small = thumbnails([Path(split_dir) / file for file in manifest["file"]])
    is_test = (manifest["split"] == "test").to_numpy()
    if is_test.all() or not is_test.any():
        return pd.DataFrame(columns=CANDIDATE_COLUMNS), small
    test_small, other_small = small[is_test], small[~is_test]
    found = nearest(descriptors(test_small), descriptors(other_small))
    detail = scores(test_small, other_small, found)
    margin = detail - background(detail)
    tests, others = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    rows, columns = np.repeat(tests, found.shape[1]), others[found.ravel()]
    textured = texture(small) >= MIN_TEXTURE
    pairs = pd.DataFrame(
        {
            "test_file": manifest["file"].to_numpy()[rows],
            "test_class": manifest["class"].to_numpy()[rows],
            "other_file": manifest["file"].to_numpy()[columns],
            "other_split": manifest["split"].to_numpy()[columns],
            "other_class": manifest["class"].to_numpy()[columns],
            "detail": detail.ravel(),
            "margin": margin.ravel(),
            "textured": textured[rows] & textured[columns],
            "row": rows,
            "column": columns,
        },
        columns=CANDIDATE_COLUMNS,
    )
    return pairs, small


def near_duplicates(manifest: pd.DataFrame, split_dir: str | Path) -> pd.DataFrame:
    """Test images that are near-copies of a train or validation image, one row per pair
    (``NEAR_DUPLICATE_COLUMNS``: the thumbnails' correlation, their details' and its margin
    over the median of the test image's candidates), the test image's closest first."""
    pairs, small = candidates(manifest, split_dir)
    pairs = pairs[pairs["textured"] & (pairs["detail"] >= MIN_DETAIL)]  # EXACT_DETAIL higher
    first, second = small[pairs["row"].to_numpy(int)], small[pairs["column"].to_numpy(int)]
    pairs = pairs.assign(correlation=shifted_correlation(first, second))
    exact = (pairs["correlation"] >= EXACT_CORRELATION) & (pairs["detail"] >= EXACT_DETAIL)
    pairs = pairs[(pairs["margin"] >= MIN_MARGIN) | exact]
    rounded = pairs[["correlation", "detail", "margin"]].astype(float).round(4)
    return pairs.assign(**rounded)[NEAR_DUPLICATE_COLUMNS].reset_index(drop=True)


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
        log.warning("near-duplicates: %s; see near_duplicates.csv", leak_share(pairs, manifest))
    return conflicts, pairs


def leak_share(pairs: pd.DataFrame, manifest: pd.DataFrame) -> str:
    """'N test image(s) (P % of the test split) are near-copies of train/validation images'."""
    images, tests = pairs["test_file"].nunique(), int((manifest["split"] == "test").sum())
    return (
        f"{images} test image(s) ({images / max(tests, 1):.1%} of the {tests:,} in the test "
        "split) are near-copies of train/validation images (re-encoded, shifted, cropped, "
        "rescaled or recoloured)"
    )
