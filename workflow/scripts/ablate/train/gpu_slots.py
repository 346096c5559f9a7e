"""Pin each train job to GPUs of its own on a machine with several, or to a slot of one.

Snakemake only counts GPUs (`--resources gpu=N` lets N one-GPU cells run at once); it
never says which GPU a job gets, and TensorFlow would otherwise place every job on the
first one. A job claims free GPUs by locking one file per GPU and exports them as
CUDA_VISIBLE_DEVICES before TensorFlow starts. The locks are released by the operating
system when the job ends, however it ends (SIGKILL included). Where CUDA_VISIBLE_DEVICES
is already set (SLURM does, or the user) nothing is changed.

With `resources.runs_per_gpu` k > 1, a one-GPU job shares its GPU with up to k - 1
others: it holds the GPU's file with a shared lock and one of k slot files with an
exclusive one, filling slot 0 of every GPU before slot 1 (runs spread over the GPUs).
A whole-GPU claim (k = 1, or a cell with several GPUs) holds the GPU's file exclusively,
so it waits for every shared run on that GPU to end and keeps new ones off it, whatever
k the other jobs (of another study, say) were given. While it waits it holds a shared lock
on `waiting.lock`, and no new run is seated anywhere, so that the GPUs drain for it
instead of filling again as each shared run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_DIR = Path(tempfile.gettempdir()) / "ablate-gpu-slots"
WAIT_SECONDS = 600.0  # how long a claim waits where Snakemake's gpu count is exact
_held: list[IO[str]] = []  # open lock files: the claim lasts as long as the process


def gpu_indices() -> list[str]:
    """Indices of this machine's NVIDIA GPUs (nvidia-smi); [] when there are none."""
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def claim_gpus(
    count: int,
    lock_dir: Path = LOCK_DIR,
    wait_seconds: float | None = WAIT_SECONDS,
    runs_per_gpu: int = 1,
) -> list[str] | None:
    """Claim ``count`` free GPUs for this process and make them the only visible ones.

    ``count`` 0 hides every GPU (a job that asked for none must not take GPU memory).
    ``runs_per_gpu`` > 1 makes a one-GPU claim a slot on a GPU shared with other runs.
    ``wait_seconds`` None waits as long as it takes. Returns the claimed indices, or None
    where nothing was changed.
    """
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        return None
    indices = gpu_indices()
    if not indices:
        return None
    if count == 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return []
    if count > len(indices):
        raise RuntimeError(
            f"this job asks for {count} GPUs but the machine has {len(indices)}; lower the "
            "cell's `gpus`."
        )
    if not lock_dir.exists():
        lock_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # every user of the machine shares the GPUs
            lock_dir.chmod(0o1777)
    shared = count == 1 and runs_per_gpu > 1
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    waiting: IO[str] | None = None  # a whole-GPU claim's sign that it waits
    while True:
        if shared:
            claimed = _try_claim_slot(indices, runs_per_gpu, lock_dir)
        else:
            claimed = _try_claim_whole(indices, count, lock_dir)
            if not claimed and waiting is None:
                waiting = _locked(lock_dir / "waiting.lock", fcntl.LOCK_SH)
        if claimed:
            if waiting is not None:
                waiting.close()
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
            what = f"a slot of {runs_per_gpu} on GPU" if shared else "GPU(s)"
            log.info("claimed %s %s", what, ",".join(claimed))
            return claimed
        # Snakemake's gpu count should prevent this; a GPU used outside ablate can cause
        # it, and so can a whole-GPU cell among shared runs (Snakemake counts it as `gpus`
        # slots, not whole GPUs): it waits for the runs on its GPUs to end.
        if deadline is not None and time.monotonic() > deadline:
            raise RuntimeError(
                f"no {count} free GPU(s) after {wait_seconds:.0f} s (locks in {lock_dir}); "
                "is `--resources gpu=N` larger than the number of GPUs?"
            )
        time.sleep(1.0)


def _open_lock(path: Path) -> IO[str]:
    # Open for reading, creating it world-writable: flock needs no write access, and
    # another user's job must be able to open the same file.
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    with contextlib.suppress(OSError):
        os.fchmod(descriptor, 0o666)
    return os.fdopen(descriptor)


def _locked(path: Path, mode: int) -> IO[str] | None:
    """``path`` open and locked (``mode``: fcntl.LOCK_EX or LOCK_SH), or None if taken."""
    file = _open_lock(path)
    try:
        fcntl.flock(file, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return None
    return file


def _gpu_file(lock_dir: Path, index: str) -> Path:
    return lock_dir / f"gpu-{index}.lock"


def _try_claim_whole(indices: list[str], count: int, lock_dir: Path) -> list[str]:
    files: list[IO[str]] = []
    claimed: list[str] = []
    for index in indices:
        file = _locked(_gpu_file(lock_dir, index), fcntl.LOCK_EX)
        if file is None:
            continue
        files.append(file)
        claimed.append(index)
        if len(claimed) == count:
            _held.extend(files)
            return claimed
    for file in files:  # not enough free: give back what was taken
        file.close()
    return []


def _slots(indices: list[str], runs_per_gpu: int) -> Iterator[tuple[str, int]]:
    """(GPU, slot) in the order they are taken: slot 0 of every GPU, then slot 1, ..."""
    for slot in range(runs_per_gpu):
        for index in indices:
            yield index, slot


def _try_claim_slot(indices: list[str], runs_per_gpu: int, lock_dir: Path) -> list[str]:
    waiting = _locked(lock_dir / "waiting.lock", fcntl.LOCK_EX)
    if waiting is None:  # a whole-GPU claim waits for the GPUs to drain
        return []
    waiting.close()
    for index, slot in _slots(indices, runs_per_gpu):
        gpu = _locked(_gpu_file(lock_dir, index), fcntl.LOCK_SH)
        if gpu is None:  # a whole-GPU job holds it
            continue
        seat = _locked(lock_dir / f"gpu-{index}.slot-{slot}.lock", fcntl.LOCK_EX)
        if seat is None:
            gpu.close()
            continue
        _held.extend([gpu, seat])
        return [index]
    return []
