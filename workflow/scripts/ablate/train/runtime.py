"""Process-wide TensorFlow settings shared by the train and evaluate steps."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from typing import Any

# Quieten TensorFlow's C++ start-up chatter; must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Niceness of jobs off the critical path (evaluate): while a train job needs the cores
# they run in its gaps (its single-threaded start-up and exit) instead of slowing it.
BACKGROUND_NICENESS = 10


def run_in_background() -> None:
    """Lower this process's CPU priority. Linux keeps niceness per thread and new threads
    inherit it, so call this before any library starts its thread pools (NumPy's BLAS,
    TensorFlow's), i.e. before importing them."""
    os.nice(BACKGROUND_NICENESS)


def skip_final_collection() -> None:
    """Call as a TensorFlow job's last step: the interpreter's final garbage collection
    then skips every object alive now (TensorFlow's and Keras' module graph: about 1 s of
    every train and evaluate job). Unlike os._exit, atexit handlers and flushes still run;
    the memory goes back to the system with the process."""
    gc.freeze()


def configure(
    seed: int | None = None,
    threads: int | None = None,
    claim: int | None = None,
    runs_per_gpu: int = 1,
    gpu_memory_mb: int | None = None,
) -> None:
    """Seed every generator, make ops deterministic, bound CPU threads and GPU memory.

    ``claim``: GPUs this job holds (ablate.train.gpu_slots), claimed before TensorFlow
    starts; 0 hides them all; None leaves the visible GPUs as they are. With
    ``runs_per_gpu`` > 1 a one-GPU claim is a seat on a GPU that others share.
    ``gpu_memory_mb`` caps this job's memory on each GPU instead of letting it grow.
    """
    if claim is not None:
        from ablate.train.gpu_slots import WAIT_SECONDS, claim_gpus

        # Shared GPUs: a whole-GPU cell may wait for the shared runs on its GPUs to end.
        wait = None if runs_per_gpu > 1 else WAIT_SECONDS
        claim_gpus(claim, wait_seconds=wait, runs_per_gpu=runs_per_gpu)
    import keras
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in gpus():
        if gpu_memory_mb:
            limit = tf.config.LogicalDeviceConfiguration(memory_limit=gpu_memory_mb)
            tf.config.set_logical_device_configuration(gpu, [limit])
        else:
            # Without this TensorFlow claims all GPU memory on start-up.
            tf.config.experimental.set_memory_growth(gpu, True)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()


def gpus() -> list[Any]:
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def distribution(gpus_wanted: int) -> Any:
    """The tf.distribute strategy for a job that asks for ``gpus_wanted`` GPUs.

    One GPU (or none): TensorFlow's default strategy. Several: MirroredStrategy over
    the first ``gpus_wanted`` visible GPUs; without any GPU (tests, a CPU workstation)
    MirroredStrategy over the CPU, so the same code path runs.
    """
    import tensorflow as tf

    if gpus_wanted <= 1:
        return tf.distribute.get_strategy()
    visible = gpus()
    if not visible:
        return tf.distribute.MirroredStrategy(["/cpu:0"])
    if len(visible) < gpus_wanted:
        raise RuntimeError(
            f"this cell asks for {gpus_wanted} GPUs but only {len(visible)} are visible; "
            "lower `gpus` or give the job more (CUDA_VISIBLE_DEVICES, --resources gpu=N)."
        )
    return tf.distribute.MirroredStrategy([f"/gpu:{index}" for index in range(gpus_wanted)])


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build models under the Keras dtype policy ``name``; restore the previous one after."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
