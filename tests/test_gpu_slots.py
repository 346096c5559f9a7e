"""GPU pinning of local train jobs, with a stand-in nvidia-smi that lists two GPUs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ablate.train.gpu_slots import claim_gpus

HOLD = """
import os, sys, time
from pathlib import Path
from ablate.train.gpu_slots import claim_gpus
claimed = claim_gpus(int(sys.argv[1]), Path(sys.argv[2]), wait_seconds=float(sys.argv[3]))
print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
time.sleep(float(sys.argv[4]))
"""


@pytest.fixture
def two_gpus(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "nvidia-smi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return tmp_path / "locks"


def hold(locks, count, hold_seconds, wait_seconds=30):
    command = [sys.executable, "-c", HOLD, str(count), str(locks), str(wait_seconds),
               str(hold_seconds)]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_different_gpus_and_wait_for_a_free_one(two_gpus):
    first, second = hold(two_gpus, 1, 3), hold(two_gpus, 1, 3)
    pinned = {first.stdout.readline().strip(), second.stdout.readline().strip()}
    assert pinned == {"0", "1"}  # each on its own GPU
    started = time.monotonic()
    third = hold(two_gpus, 1, 0)
    assert third.stdout.readline().strip() in {"0", "1"}
    assert time.monotonic() - started > 1.0  # it waited for one to be given back
    for process in (first, second, third):
        assert process.wait(timeout=30) == 0, process.stderr.read()


def test_a_killed_job_gives_its_gpu_back(two_gpus):
    both = hold(two_gpus, 2, 60)
    assert both.stdout.readline().strip() == "0,1"
    both.kill()
    both.wait()
    quick = hold(two_gpus, 1, 0, wait_seconds=5)
    assert quick.stdout.readline().strip() == "0"
    assert quick.wait(timeout=30) == 0


def test_a_set_cuda_visible_devices_is_left_alone(two_gpus, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # as SLURM sets it
    assert claim_gpus(1, two_gpus) is None
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"


def test_asking_for_more_gpus_than_the_machine_has_is_explained(two_gpus):
    with pytest.raises(RuntimeError, match="asks for 3 GPUs but the machine has 2"):
        claim_gpus(3, two_gpus)


def test_zero_hides_every_gpu_and_no_gpu_changes_nothing(two_gpus, monkeypatch):
    assert claim_gpus(0, two_gpus) == [] and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert claim_gpus(1, two_gpus) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
