"""Seed bank: many real runs of one tiny digits configuration, and of a level that is a
little worse, with every run's per-image test predictions. The verdict calibration
(bench/calibration.py, tests/test_verdicts.py) draws pseudo-cells from it.

Trains the levels x seeds through the real workflow (train and evaluate jobs, nothing
else), then keeps level, seed, image, true and predicted class of every test image in
bench/data/seed_bank.csv.gz (committed: the calibration needs no training). With --levels
(and --seeds) only the runs the bank lacks are trained and added.

    .venv/bin/python bench/seed_bank.py [--seeds 20] [--levels a,b,c] [--cores 2] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
BANK = REPO / "bench" / "data" / "seed_bank.csv.gz"
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
from ablate import paths  # noqa: E402

# Level "a": a small convnet on all 1,797 digits at 16x16, a few epochs. Level "b" learns
# at 0.7 of the rate in as many epochs: a few points worse, as a real ablation level is.
# Level "c" learns at a hopeless rate: the known difference that any verdict must find.
# Level "d" trains one epoch instead of four: far below "a", and its runs spread widely
# (the case of a level whose every run is far below every baseline run). Levels "e" to "h"
# change only the learning rate or the epochs, as "b" does, so at one seed they start from
# a's weights and data order: with a and b, a study of six like cells, as most ablations
# are (learning rate 0.0012, 0.0008 and 0.0005; three epochs).
CONFIG = {
    "study": "seed-bank",
    "dataset": {
        "source": "builtin:digits",
        "image_size": [16, 16],
        "color_mode": "grayscale",
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15, "seed": 2024},
    },
    "base": {
        "model": {"name": "small_convnet", "filters": [8, 16], "dense_units": 32},
        "optimizer": {"name": "adam", "learning_rate": 0.001},
        "batch_size": 32,
        "epochs": 4,
    },
    "factors": {
        "level": {
            "a": {},
            "b": {"optimizer": {"learning_rate": 0.0007}},
            "c": {"optimizer": {"learning_rate": 0.00001}},
            "d": {"epochs": 1},
            "e": {"optimizer": {"learning_rate": 0.0012}},
            "f": {"optimizer": {"learning_rate": 0.0008}},
            "g": {"optimizer": {"learning_rate": 0.0005}},
            "h": {"epochs": 3},
        }
    },
    # One thread per run (op determinism at a fixed thread count), two runs at once.
    "resources": {"cpus": 1, "runs_per_gpu": 2},
}


def load_predictions() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per level: seeds x images predicted classes, rows in seed order and columns in one
    image order for every level; and the true class of each image in that order."""
    table = pd.read_csv(BANK, dtype=str)
    table["seed"] = table["seed"].astype(int)
    levels = {
        level: rows.pivot(index="seed", columns="image", values="predicted").sort_index()
        for level, rows in table.groupby("level")
    }
    images = levels["a"].columns
    true = table.drop_duplicates("image").set_index("image").loc[images, "true"]
    return {level: frame[images].to_numpy() for level, frame in levels.items()}, true.to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--levels", default="a,b,c", help="comma-separated levels to train")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="seed-bank-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = {**CONFIG, "seeds": list(range(1, args.seeds + 1))}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    kept = pd.read_csv(BANK, dtype={"true": str, "predicted": str}) if BANK.exists() else None
    have = set() if kept is None else set(zip(kept["level"], kept["seed"], strict=True))
    runs = [(f"level-{level}", seed) for level in args.levels.split(",")
            for seed in config["seeds"] if (level, seed) not in have]  # fmt: skip
    targets = [paths.fill(paths.PREDICTIONS, study="seed-bank", cell=c, seed=s) for c, s in runs]
    subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "--snakefile", str(REPO / "Snakefile"),
         "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
         "--cores", str(args.cores), "--resources", "gpu=1", "--quiet", "rules"],
        check=True,
    )  # fmt: skip
    tables = []
    for (cell, seed), target in zip(runs, targets, strict=True):
        table = pd.read_csv(workdir / target, dtype={"true": str, "predicted": str})
        tables.append(table.assign(level=cell.removeprefix("level-"), seed=seed))
    bank = pd.concat([kept, *tables] if kept is not None else tables, ignore_index=True)
    bank = bank[["level", "seed", "image", "true", "predicted"]].sort_values(
        ["level", "seed"], kind="stable"
    )
    BANK.parent.mkdir(parents=True, exist_ok=True)
    bank.to_csv(BANK, index=False)
    accuracy = (bank["true"] == bank["predicted"]).groupby([bank["level"], bank["seed"]]).mean()
    print(accuracy.groupby("level").describe())
    print(f"wrote {BANK.relative_to(REPO)} ({len(bank)} rows; work in {workdir})")


if __name__ == "__main__":
    main()
