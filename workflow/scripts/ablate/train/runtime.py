"""Process-wide TensorFlow settings shared by the train and evaluate steps."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from typing import Any

# Quieten TensorFlow's C++ start-up chatter; must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras imports its scikit-learn wrapper (keras.wrappers) and matplotlib's pyplot
# (keras.visualization) at start-up whenever they are installed, and does without them
# when the import fails. No train, evaluate or decode job uses either; together they are
# about 2.3 of the 8 to 9 s that importing TensorFlow and Keras takes in every such job.
SKIPPED_BY_KERAS = ("sklearn", "matplotlib")

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


def import_tensorflow() -> None:
    """Import TensorFlow and Keras without Keras' optional integrations (SKIPPED_BY_KERAS):
    a None in ``sys.modules`` makes their import fail (Python's documented way to block a
    module: the import system reference, "The module cache"), and Keras catches that. The
    entries are removed again, so the job itself can still import them."""
    if "keras" in sys.modules:
        return
    blocked = [name for name in SKIPPED_BY_KERAS if name not in sys.modules]
    sys.modules.update(dict.fromkeys(blocked))
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]


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
    import_tensorflow()
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
