"""GPU pinning of local train jobs, with a stand-in nvidia-smi that lists two GPUs."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from ablate.train.gpu_slots import claim_gpus

HOLD = """
import os, sys
from pathlib import Path
from ablate.train.gpu_slots import claim_gpus
claimed = claim_gpus(int(sys.argv[1]), Path(sys.argv[2]), wait_seconds=float(sys.argv[3]),
                     runs_per_gpu=int(sys.argv[4]))
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


def hold(locks, count, wait_seconds=60, runs_per_gpu=1):
    """A job that claims ``count`` GPUs, prints them and holds them until released."""
    command = [sys.executable, "-c", HOLD, str(count), str(locks), str(wait_seconds),
               str(runs_per_gpu)]  # fmt: skip
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
    assert waits(third)  # both GPUs are held
    release(second)
    assert third.stdout.readline().strip() == pinned[1]  # the GPU given back, no other
    release(first)
    release(third)


def waits(job):
    """The job has claimed nothing yet (a wrong claim would show within the half second;
    a slow machine can only make this check weaker, never fail it)."""
    return select.select([job.stdout], [], [], 0.5)[0] == [] and job.poll() is None


def test_shared_gpus_seat_runs_per_gpu_jobs_on_each_spread_over_the_gpus(two_gpus):
    seated, pinned = [], []
    for _ in range(4):  # one after another, so that the order of seats is known
        seated.append(hold(two_gpus, 1, runs_per_gpu=2))
        pinned.append(seated[-1].stdout.readline().strip())
    assert pinned == ["0", "1", "0", "1"]  # slot 0 of each GPU, then slot 1
    fifth = hold(two_gpus, 1, runs_per_gpu=2)
    assert waits(fifth)  # 2 GPUs x 2 runs are seated
    release(seated[1])
    assert fifth.stdout.readline().strip() == "1"  # the seat given back
    for job in [seated[0], *seated[2:], fifth]:
        release(job)


def test_a_whole_gpu_claim_and_shared_runs_keep_off_each_other(two_gpus):
    shared = hold(two_gpus, 1, runs_per_gpu=4)
    assert shared.stdout.readline().strip() == "0"
    whole = hold(two_gpus, 1)  # runs_per_gpu 1 (another study's job): a whole GPU
    assert whole.stdout.readline().strip() == "1"  # not the one with a run on it
    both = hold(two_gpus, 2, runs_per_gpu=4)  # a `gpus: 2` cell waits for both to end
    assert waits(both)
    another = hold(two_gpus, 1, runs_per_gpu=4)
    assert waits(another)  # no new seat while a whole-GPU claim waits (the GPUs drain)
    release(whole)
    assert waits(both)  # GPU 0 still has a run on it
    release(shared)
    assert both.stdout.readline().strip() == "0,1"
    assert waits(another)  # no seat on a GPU held whole
    release(both)
    assert another.stdout.readline().strip() == "0"
    release(another)


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


def test_runs_per_gpu_lets_a_second_train_job_start_beside_a_held_one(tmp_path):
    """`resources.runs_per_gpu: 2` under `--resources gpu=1`: while one train job is held
    after its first epoch (tests/hooks/sitecustomize.py), another trains to its end. With
    one run per GPU the held job's `gpu` would keep every other train job waiting."""
    from conftest import holding, snakemake_command, tiny_config, wait_for_mark, write_config

    config = tiny_config(design="list", cells=[{}, {"augmentation": "geometric"}], seeds=[1])
    config["resources"] = {"cpus": 1, "runs_per_gpu": 2}
    write_config(tmp_path, config)
    mark = tmp_path / "held"
    process = subprocess.Popen(
        snakemake_command(tmp_path, "--cores", "2", "--resources", "gpu=1"),
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=holding(mark, 1),
    )  # fmt: skip
    models = tmp_path / "results" / "tiny" / "cells"
    try:
        wait_for_mark(mark, process)
        # The timeout bounds a hang (the feature broken); both jobs start at once, and a
        # 2-epoch tiny train job takes seconds.
        deadline = time.monotonic() + 180
        while not list(models.glob("*/seed-1/model.keras")) and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()[-5000:]
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert len(list(models.glob("*/seed-1/model.keras"))) == 1  # the other one, finished


SEATED = """
import os, sys
from ablate.train import runtime
runtime.configure(claim=1, runs_per_gpu=2, gpu_memory_mb=1024)  # as a packed train job
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
limits = [c.memory_limit for c in tf.config.get_logical_device_configuration(gpus[0]) or []]
print(os.environ["CUDA_VISIBLE_DEVICES"], len(gpus), limits, flush=True)
sys.stdin.read()
"""


@pytest.mark.gpu
def test_two_packed_jobs_share_the_first_gpu_each_with_its_memory_cap():
    """On a real GPU machine, two jobs of `runs_per_gpu: 2` sit on GPU 0 together, each
    seeing that one GPU with a 1024 MB limit. Not yet run on a GPU (issue 25)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        pytest.skip("CUDA_VISIBLE_DEVICES is set: jobs leave it alone (as under SLURM)")
    jobs = [
        subprocess.Popen([sys.executable, "-c", SEATED], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    seen = [job.stdout.readline().strip() for job in jobs]
    for job in jobs:
        release(job)
    from conftest import gpu_count

    first = "0 1 [1024]"
    if gpu_count() == 1:
        assert seen == [first, first], seen
    else:  # slot 0 of each GPU first
        assert sorted(seen) == [first, "1 1 [1024]"], seen
