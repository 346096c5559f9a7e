"""Pin each train job to GPUs of its own on a machine with several.

Snakemake only counts GPUs (`--resources gpu=N` lets N one-GPU cells run at once); it
never says which GPU a job gets, and TensorFlow would otherwise place every job on the
first one. A job claims free GPUs by locking one file per GPU and exports them as
CUDA_VISIBLE_DEVICES before TensorFlow starts. The locks are released by the operating
system when the job ends, however it ends (SIGKILL included). Where CUDA_VISIBLE_DEVICES
is already set (SLURM does, or the user) nothing is changed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

LOCK_DIR = Path(tempfile.gettempdir()) / "ablate-gpu-slots"
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
    count: int, lock_dir: Path = LOCK_DIR, wait_seconds: float = 600.0
) -> list[str] | None:
    """Claim ``count`` free GPUs for this process and make them the only visible ones.

    ``count`` 0 hides every GPU (a job that asked for none must not take GPU memory).
    Returns the claimed indices, or None where nothing was changed.
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
    deadline = time.monotonic() + wait_seconds
    while True:
        claimed = _try_claim(indices, count, lock_dir)
        if claimed:
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(claimed)
            log.info("claimed GPU(s) %s", ",".join(claimed))
            return claimed
        # Snakemake's gpu count should prevent this; a GPU used outside ablate can cause it.
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no {count} free GPU(s) after {wait_seconds:.0f} s (locks in {lock_dir}); "
                "is `--resources gpu=N` larger than the number of GPUs?"
            )
        time.sleep(1.0)


def _try_claim(indices: list[str], count: int, lock_dir: Path) -> list[str]:
    files: list[IO[str]] = []
    claimed: list[str] = []
    for index in indices:
        path = lock_dir / f"gpu-{index}.lock"
        # Open for reading, creating it world-writable: flock needs no write access, and
        # another user's job must be able to open the same file.
        descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        with contextlib.suppress(OSError):
            os.fchmod(descriptor, 0o666)
        file = os.fdopen(descriptor)
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            continue
        files.append(file)
        claimed.append(index)
        if len(claimed) == count:
            _held.extend(files)
            return claimed
    for file in files:  # not enough free: give back what was taken
        file.close()
    return []
