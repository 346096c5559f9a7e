"""`make gpu-check`: every GPU path of ablate, run once on a machine with an NVIDIA GPU and
the CUDA build of TensorFlow, in at most 10 minutes, with every figure it measured written
into docs/benchmarks.md (section `gpu_check`) and the whole output into a log file.

Steps, each with its share of the time budget (a step that runs out is recorded as timed
out, and the next one starts):
1. the `gpu`-marked tests (pytest -m gpu);
2. bench/model_throughput.py at 224x224: augmentation in tf.data and in the model, beside
   one synthetic batch (its own section of docs/benchmarks.md);
3. a 2-cell, 1-seed CIFAR-sized study (S5's preset on a generated stand-in of CIFAR-10:
   5,000 training images of 32x32) through `snakemake --cores 4 --resources gpu=1`, with
   mixed precision and XLA on;
4. its baseline at 4 seeds trained in turn (`resources.runs_per_gpu: 1`), then 4 at once
   on the one GPU (`runs_per_gpu: 4`): the pack's throughput over the runs in turn.
   (The CPU rehearsal packs 2.)

Without a GPU that TensorFlow sees it says so in one line and exits 2. `--rehearse` runs
the same steps at toy sizes on a CPU into a folder of its own (tests/test_gpu_check.py),
so every step is exercised before a GPU is ever at hand.

    .venv-gpu/bin/python bench/gpu_check.py [--rehearse --out FOLDER]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow" / "scripts"))
sys.path.insert(0, str(REPO / "tests"))
from benchmarks_doc import BENCHMARKS, write_section  # noqa: E402

BUDGET_SECONDS = 10 * 60
STUDY = "gpu-check"
# Shares of the budget; what a step leaves unused goes to the ones after it.
SHARES = {"gpu tests": 0.15, "throughput": 0.2, "study": 0.25, "in turn": 0.25, "packed": 0.15}


@dataclass(frozen=True)
class Sizes:
    """How big each step is: the real check's, or a CPU rehearsal's."""

    throughput: list[str]
    train_per_class: int
    test_per_class: int
    epochs: int
    pack: int  # runs on one GPU at once


REAL = Sizes(["--size", "224", "--steps", "30", "--rounds", "3"], 500, 100, 3, 4)
REHEARSAL = Sizes(
    ["--size", "32", "--steps", "2", "--rounds", "1", "--model", "small_convnet"], 10, 2, 1, 2
)


@dataclass
class Step:
    name: str
    status: str = "not run"  # passed, failed, timed out
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


def gpu_names() -> list[str]:
    """The NVIDIA GPUs nvidia-smi lists (none where it is missing or fails)."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [
        line.split(":", 1)[1].split("(")[0].strip()
        for line in listed.stdout.splitlines()
        if line.startswith("GPU ")
    ]


def study_config(tfds_dir: Path, sizes: Sizes) -> dict[str, Any]:
    """S5's preset on the stand-in: its baseline and its most demanding cell, one seed,
    ``sizes.epochs`` epochs, mixed precision and XLA on."""
    config = yaml.safe_load((REPO / "studies" / "s5-cifar10.yaml").read_text())
    config["study"] = STUDY
    config["dataset"]["tfds_data_dir"] = str(tfds_dir)
    config["design"] = "list"
    config["cells"] = [{}, {"network": "v4-dropout-bn", "augmentation": "flip-erasing"}]
    config["seeds"] = [1]
    config["base"].update(epochs=sizes.epochs, precision="mixed_float16", jit_compile=True)
    for levels in config["factors"].values():
        for patch in levels.values():
            if patch and "epochs" in patch:
                patch["epochs"] = sizes.epochs
    return config


def pack_config(tfds_dir: Path, sizes: Sizes, runs_per_gpu: int) -> dict[str, Any]:
    """The study's baseline at ``sizes.pack`` seeds, ``runs_per_gpu`` of them at once on
    one GPU (the same study name and data set: the study's split and arrays are reused)."""
    config = study_config(tfds_dir, sizes)
    config.update(cells=[{}], seeds=list(range(1, sizes.pack + 1)))
    config["resources"] = {**config.get("resources", {}), "runs_per_gpu": runs_per_gpu}
    return config


def train_span(results: Path, since: float) -> float:
    """Seconds from the first train job's first log line to the last one's last line, of
    the train logs written after ``since`` (a time.time())."""
    starts, ends = [], []
    for log in results.glob("logs/train/*/seed-*.log"):
        if log.stat().st_mtime < since:
            continue
        lines = log.read_text().splitlines()
        starts.append(datetime.strptime(lines[0][:23], "%Y-%m-%d %H:%M:%S,%f"))
        ends.append(datetime.strptime(lines[-1][:23], "%Y-%m-%d %H:%M:%S,%f"))
    return (max(ends) - min(starts)).total_seconds()


def pytest_counts(output: str) -> dict[str, int]:
    """The counts of pytest's closing line ('3 passed, 1 skipped in 2.0s')."""
    lines = [
        line
        for line in output.splitlines()
        if re.search(
            r"\b(passed|failed|skipped|"
            r"deselected|error)",
            line,
        )
    ]
    closing = lines[-1] if lines else ""
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", closing)}


class Check:
    def __init__(self, out: Path, sizes: Sizes, doc: Path, budget: float) -> None:
        self.out, self.sizes, self.doc = out, sizes, doc
        self.deadline = time.monotonic() + budget
        self.budget = budget
        self.log = out / "gpu-check.log"
        self.steps: list[Step] = []

    def run(self, step: Step, command: list[str], share: float, **options: Any) -> str:
        """Run ``command`` within its share of what is left; its output goes to the log."""
        left = self.deadline - time.monotonic()
        later = sum(SHARES[s] for s in list(SHARES)[len(self.steps) :])
        limit = max(left * share / later, 1.0) if later else left
        started = time.perf_counter()
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(command)}   (limit {limit:.0f} s)\n")
            log.flush()
            try:
                done = subprocess.run(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=limit,
                    cwd=REPO,
                    **options,
                )
                output, step.status = done.stdout, "passed" if done.returncode == 0 else "failed"
            except subprocess.TimeoutExpired as expired:
                output, step.status = _text(expired.stdout), "timed out"
            log.write(output)
        step.seconds = time.perf_counter() - started
        self.steps.append(step)
        return output

    def gpu_tests(self) -> None:
        step = Step("gpu tests")
        output = self.run(
            step,
            [
                sys.executable,
                "-m",
                "pytest",
                "-m",
                "gpu",
                "-p",
                "no:cacheprovider",
                "-n",
                "0",
                "-q",
                "tests",
            ],
            SHARES["gpu tests"],
        )
        step.figures = pytest_counts(output)
        problems = sum(step.figures.get(word, 0) for word in ("failed", "error", "errors"))
        if step.status == "failed" and problems == 0 and step.figures:
            step.status = "passed"  # only skips or deselections: pytest's exit 5
        if step.status == "passed" and step.figures.get("passed", 0) == 0:
            step.status = "passed (no gpu test ran)"

    def throughput(self) -> None:
        step = Step("throughput")
        output = self.run(
            step,
            [
                sys.executable,
                "bench/model_throughput.py",
                "--placement",
                "both",
                *self.sizes.throughput,
                "--doc",
                str(self.doc),
            ],
            SHARES["throughput"],
        )
        for name, rate, ratio in re.findall(
            r"^(data|model): ([\d.]+) images/s, ratio ([\d.]+)", output, flags=re.M
        ):
            step.figures[f"{name} images/s"] = float(rate)
            step.figures[f"{name} / synthetic"] = float(ratio)
        if found := re.search(r"^synthetic: ([\d.]+) images/s", output, flags=re.M):
            step.figures["synthetic images/s"] = float(found[1])

    def study(self) -> None:
        from standins import prepare_tfds

        step = Step("study")
        workdir = self.out / "study"
        tfds_dir = self.out / "tfds"
        if not (tfds_dir / "cifar10").exists():
            per_class = {"train": self.sizes.train_per_class, "test": self.sizes.test_per_class}
            prepare_tfds("cifar10", tfds_dir, per_class)
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump(study_config(tfds_dir, self.sizes), sort_keys=False))
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(config),
            "--cores",
            "4",
            "--resources",
            "gpu=1",
            "--forcerun",
            "train",
            "--show-failed-logs",
        ]
        self.run(step, command, SHARES["study"])
        runs_csv = workdir / "results" / STUDY / "runs.csv"
        if step.status != "passed" or not runs_csv.exists():
            return
        for row in pd.read_csv(runs_csv).itertuples():
            summary = json.loads(
                (
                    workdir
                    / "results"
                    / STUDY
                    / "cells"
                    / row.cell
                    / f"seed-{row.seed}"
                    / "train.json"
                ).read_text()
            )
            step.figures[row.cell] = {
                "status": row.status,
                "test accuracy": row.test_accuracy,
                "train s": row.train_seconds,
                "images/s": row.images_per_second,
                "precision": summary.get("precision"),
                "jit_compile": summary.get("jit_compile"),
                "placement": summary.get("augmentation_placement"),
            }

    def pack(self) -> None:
        """The same runs in turn and packed onto one GPU, in the study's folder (its data
        prepared), each timed from its first train job's start to its last one's end."""
        seconds = {}
        pack = self.sizes.pack
        workdir = self.out / "study"
        for name, runs_per_gpu in (("in turn", 1), ("packed", pack)):
            step = Step(name)
            config = workdir / f"pack-{runs_per_gpu}.yaml"
            study = pack_config(self.out / "tfds", self.sizes, runs_per_gpu)
            config.write_text(yaml.safe_dump(study, sort_keys=False))
            since = time.time()
            command = [
                sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                "--directory", str(workdir), "--configfile", str(config), "--cores", "8",
                "--resources", "gpu=1", "--until", "train", "--forcerun", "train",
                "--show-failed-logs",
            ]  # fmt: skip
            self.run(step, command, SHARES[name])
            if step.status == "passed":
                seconds[name] = train_span(workdir / "results" / STUDY, since)
                step.figures = {"runs": pack, "train s": round(seconds[name], 1)}
        if len(seconds) == 2:
            step.figures["throughput / in turn"] = round(seconds["in turn"] / seconds["packed"], 2)

    def write(self, gpus: list[str], total: float) -> None:
        import tensorflow as tf

        lines = [
            "## GPU check (`make gpu-check`, `bench/gpu_check.py`)",
            "",
            f"Measured {date.today()} on {platform.machine()}, "
            f"{', '.join(gpus) or 'no GPU (CPU rehearsal)'}, TensorFlow {tf.__version__}; "
            f"{total:.0f} s in all (budget {self.budget:.0f} s). Log: `{self.log.name}`.",
            "",
            "| step | status | seconds | figures |",
            "|---|---|---:|---|",
        ]
        for step in self.steps:
            if step.name == "study":
                figures = "see below" if step.figures else ""
            else:
                figures = ", ".join(f"{k} {v}" for k, v in step.figures.items())
            lines.append(f"| {step.name} | {step.status} | {step.seconds:.0f} | {figures} |")
        study = next((s for s in self.steps if s.name == "study" and s.figures), None)
        if study is not None:
            lines += [
                "",
                f"The study (S5's preset, {self.sizes.train_per_class} training images per "
                f"class of 32x32, {self.sizes.epochs} epoch(s), one seed):",
                "",
                "| cell | status | test accuracy | train s | images/s | precision | XLA | "
                "augmentation |",
                "|---|---|---:|---:|---:|---|---|---|",
            ]
            for cell, f in study.figures.items():
                lines.append(
                    f"| {cell} | {f['status']} | {f['test accuracy']:.3f} | {f['train s']:.1f} "
                    f"| {f['images/s']:.0f} | {f['precision']} | {f['jit_compile']} "
                    f"| {f['placement']} |"
                )
        write_section("gpu_check", lines, self.doc)
        with self.log.open("a") as log:
            log.write("\n" + "\n".join(lines) + "\n")


def _text(output: bytes | str | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="toy sizes on a CPU, into --out (docs/benchmarks.md untouched)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "results" / STUDY)
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds in all")
    args = parser.parse_args(argv)
    from ablate.train import runtime

    gpus = gpu_names()
    if not args.rehearse:
        if not gpus:
            print("gpu-check: no NVIDIA GPU here (nvidia-smi lists none); run it where one is.")
            return 2
        runtime.configure()
        if not runtime.gpus():
            print("gpu-check: TensorFlow sees no GPU; install its CUDA build (make TF=gpu).")
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    doc = args.out / "benchmarks.md" if args.rehearse else BENCHMARKS
    check = Check(args.out, REHEARSAL if args.rehearse else REAL, doc, args.budget)
    check.log.write_text(f"gpu-check {date.today()}: {', '.join(gpus) or 'CPU rehearsal'}\n")
    started = time.perf_counter()
    check.gpu_tests()
    check.throughput()
    check.study()
    check.pack()
    check.write(gpus, time.perf_counter() - started)
    for step in check.steps:
        print(f"{step.name}: {step.status} ({step.seconds:.0f} s)")
    print(f"figures: {doc} (section gpu_check); log: {check.log}")
    return 0 if all(s.status.startswith("passed") for s in check.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
