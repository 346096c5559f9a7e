"""Benchmark: how long `make test` takes on a fresh clone, as CI runs it (`bash .ci/run` with
CI=true in a new clone, ../shared beside it), with pytest's 15 slowest tests. With
--before LOG (the output of an earlier such run, e.g. of an older commit) the section
gives both and their ratio, measured on the same machine.

    .venv/bin/python bench/suite_time.py [--ref HEAD] [--before old-run.log]

It takes as long as the suite (and the install of a fresh .venv on the first run).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from benchmarks_doc import write_section  # noqa: E402


@dataclass(frozen=True)
class Run:
    closing: str  # pytest's closing line: "593 passed, 3 skipped in 1510.02s (0:25:10)"
    seconds: float  # pytest's own time (collection to the last test)
    slowest: list[tuple[float, str]]  # (seconds, "call|setup tests/x.py::test")


def parse(output: str) -> Run:
    """pytest's closing line and its --durations list, from a run's output."""
    closings = re.findall(r"^=+ (.*\bin ([\d.]+)s\b.*) =+$", output, flags=re.M)
    if not closings:
        raise ValueError("no pytest closing line in the output")
    closing, seconds = closings[-1]
    block = output.split("slowest", 1)[1] if "slowest" in output else ""
    slowest = [(float(s), what.strip()) for s, what in
               re.findall(r"^([\d.]+)s (\w+ +\S+)$", block, flags=re.M)]  # fmt: skip
    return Run(closing, float(seconds), slowest[:15])


def fresh_clone_run(ref: str, keep: Path | None) -> tuple[str, float]:
    """`bash .ci/run` on a fresh clone of ``ref``: its output and its wall time (install
    included)."""
    top = Path(tempfile.mkdtemp(prefix="ablate-test-time-")) if keep is None else keep
    clone = top / "main"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", ref], check=True)
    if (REPO.parent / "shared").is_dir():
        shutil.copytree(REPO.parent / "shared", top / "shared", dirs_exist_ok=True)
    environment = {**os.environ, "CI": "true"}
    started = time.perf_counter()
    done = subprocess.run(["bash", ".ci/run"], cwd=clone, env=environment, text=True,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)  # fmt: skip
    wall = time.perf_counter() - started
    (top / "run.log").write_text(done.stdout)
    if keep is None:
        shutil.rmtree(top, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f".ci/run failed ({done.returncode}):\n{done.stdout[-5000:]}")
    return done.stdout, wall


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--before", type=Path, help="the output of an earlier run to compare")
    parser.add_argument("--before-label", default="an earlier commit", help="what --before ran")
    parser.add_argument("--keep", type=Path, help="clone into this folder and keep it")
    parser.add_argument("--now", type=Path, help="read this run's log instead of running")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", args.ref],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    if args.now is None:
        output, wall = fresh_clone_run(args.ref, args.keep)
        how = f"on a fresh clone of {commit}: {minutes(wall)} in all with the install of `.venv`"
    else:  # a run made elsewhere (e.g. `make test` in a working tree), read from its log
        output, how = args.now.read_text(), f"read from {args.now.name} ({commit})"
    now = parse(output)
    lines = [
        "## Test suite time (`bench/suite_time.py`)",
        "",
        f"`CI=true bash .ci/run` (= `make test`) {how}; measured {date.today()} on "
        f"{platform.machine()}, {os.cpu_count()} cores, no GPU. pytest: `{now.closing}`.",
    ]
    runs = {"now": now}
    if args.before is not None:
        before = parse(args.before.read_text())
        runs["before"] = before
        lines += [
            "",
            f"The same machine before this change ({args.before_label}): pytest "
            f"`{before.closing}`. **Now / before: {now.seconds / before.seconds:.2f}**.",
        ]
    for name, run in runs.items():
        lines += ["", f"| slowest 15, {name} | seconds |", "|---|---:|"]
        lines += [f"| `{what}` | {seconds:.0f} |" for seconds, what in run.slowest]
    write_section("suite_time", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
