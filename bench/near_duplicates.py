"""Benchmark: comparing the test split's perceptual hashes with every train and validation
hash (the split step's near-duplicate check, ablate.data.duplicates.near_pairs) at
CIFAR-10's size: 10,000 test against 50,000 other 64-bit hashes, 500 million Hamming
distances. Beside it, the same distances from scipy's `cdist(metric="hamming")` on the
unpacked bits, on a slice of the test hashes (the whole would take minutes), so the figure
is a ratio measured in one run. Results go to docs/benchmarks.md.

    .venv/bin/python bench/near_duplicates.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from scipy.spatial.distance import cdist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402

from ablate.data.duplicates import MAX_DISTANCE, near_pairs  # noqa: E402

TEST, OTHER, SLICE = 10_000, 50_000, 500


def seconds(function, rounds: int) -> float:
    """Median wall time of ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    other = rng.integers(0, 256, (OTHER, 8), dtype=np.uint8)
    test = rng.integers(0, 256, (TEST, 8), dtype=np.uint8)
    bits_other = np.unpackbits(other, axis=1).astype(bool)
    bits_test = np.unpackbits(test[:SLICE], axis=1).astype(bool)

    # The same pairs both ways on the slice: the benchmark times equal work.
    rows, columns, _ = near_pairs(test[:SLICE], other)
    plain = np.argwhere(cdist(bits_test, bits_other, "hamming") * 64 <= MAX_DISTANCE)
    assert len(plain) >= len(rows) and set(zip(rows, columns, strict=True)) <= {
        (int(r), int(c)) for r, c in plain
    }

    ours = seconds(lambda: near_pairs(test[:SLICE], other), args.rounds)
    scipy = seconds(lambda: cdist(bits_test, bits_other, "hamming"), args.rounds)
    whole = seconds(lambda: near_pairs(test, other), args.rounds)
    lines = [
        "## Near-duplicate check (`bench/near_duplicates.py`)",
        "",
        f"Measured {date.today()} on {platform.machine()}, median of {args.rounds} rounds. "
        f"Random 64-bit perceptual hashes, CIFAR-10's size: {TEST:,} test against "
        f"{OTHER:,} train and validation hashes. Every Hamming distance is computed "
        "(`np.bitwise_count` on 64-bit words, 1,024 test hashes at a time); pairs within "
        f"{MAX_DISTANCE} bits are kept.",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| `near_pairs`, {SLICE} test x {OTHER:,} | {ours:.3f} |",
        f'| scipy `cdist(metric="hamming")` on unpacked bits, the same | {scipy:.3f} |',
        f"| `near_pairs`, {TEST:,} test x {OTHER:,} | {whole:.2f} |",
        "",
        f"**scipy / near_pairs: {scipy / ours:.0f}x** on the same distances; the whole "
        f"comparison takes {whole:.1f} s, once per split step.",
    ]
    write_section("near_duplicates", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
