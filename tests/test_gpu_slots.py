"""GPU pinning of local train jobs, with a stand-in nvidia-smi that lists two GPUs."""

from __future__ import annotations

import os
import select
import subprocess
import sys

import pytest

from ablate.train.gpu_slots import claim_gpus

HOLD = """
import os, sys
from pathlib import Path
from ablate.train.gpu_slots import claim_gpus
claimed = claim_gpus(int(sys.argv[1]), Path(sys.argv[2]), wait_seconds=float(sys.argv[3]))
print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
sys.stdin.read()  # hold the GPUs until the test closes stdin
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


def hold(locks, count, wait_seconds=60):
    """A job that claims ``count`` GPUs, prints them and holds them until released."""
    command = [sys.executable, "-c", HOLD, str(count), str(locks), str(wait_seconds)]
    return subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def release(process):
    process.stdin.close()
    assert process.wait(timeout=30) == 0, process.stderr.read()


def test_concurrent_jobs_get_different_gpus_and_wait_for_a_free_one(two_gpus):
    first, second = hold(two_gpus, 1), hold(two_gpus, 1)
    pinned = [first.stdout.readline().strip(), second.stdout.readline().strip()]
    assert sorted(pinned) == ["0", "1"]  # each on its own GPU
    third = hold(two_gpus, 1)
    # Both GPUs are held: the third job has not claimed one (a wrong claim would show here
    # within the half second; a slow machine can only make this check weaker, never fail).
    assert select.select([third.stdout], [], [], 0.5)[0] == []
    assert third.poll() is None
    release(second)
    assert third.stdout.readline().strip() == pinned[1]  # the GPU given back, no other
    release(first)
    release(third)


def test_a_killed_job_gives_its_gpu_back(two_gpus):
    both = hold(two_gpus, 2)
    assert both.stdout.readline().strip() == "0,1"
    both.kill()
    both.wait()
    quick = hold(two_gpus, 1, wait_seconds=5)
    assert quick.stdout.readline().strip() == "0"
    release(quick)


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


PINNED = """
import os, sys
from ablate.train import runtime
runtime.configure(claim=1)  # as a train job does, before TensorFlow starts
import tensorflow as tf
print(os.environ["CUDA_VISIBLE_DEVICES"], len(tf.config.list_physical_devices("GPU")), flush=True)
sys.stdin.read()
"""


@pytest.mark.gpu
def test_local_train_jobs_each_see_only_their_own_gpu():
    """On a real GPU machine, two jobs at once (one where there is one GPU) each see
    exactly one GPU, a different one. Not yet run on a GPU: no GPU was lent to the session
    that wrote it (issue 16)."""
    from conftest import gpu_count

    if "CUDA_VISIBLE_DEVICES" in os.environ:
        pytest.skip("CUDA_VISIBLE_DEVICES is set: jobs leave it alone (as under SLURM)")
    jobs = [
        subprocess.Popen([sys.executable, "-c", PINNED], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(min(gpu_count(), 2))
    ]  # fmt: skip
    seen = [job.stdout.readline().split() for job in jobs]
    for job in jobs:
        release(job)
    assert all(count == "1" for _, count in seen), seen
    assert len({visible for visible, _ in seen}) == len(jobs), seen
