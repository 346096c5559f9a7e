"""Process-wide TensorFlow settings shared by the train and evaluate steps."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

# Quieten TensorFlow's C++ start-up chatter; must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def configure(
    seed: int | None = None, threads: int | None = None, claim: int | None = None
) -> None:
    """Seed every generator, make ops deterministic, bound CPU threads, let GPU memory grow.

    ``claim``: GPUs this job holds on its own (ablate.train.gpu_slots), claimed before
    TensorFlow starts; 0 hides them all; None leaves the visible GPUs as they are.
    """
    if claim is not None:
        from ablate.train.gpu_slots import claim_gpus

        claim_gpus(claim)
    import keras
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in gpus():
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
