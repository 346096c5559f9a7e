"""Process-wide TensorFlow settings shared by the train and evaluate steps."""

from __future__ import annotations

import os

# Quieten TensorFlow's C++ start-up chatter; must be set before TensorFlow is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def configure(seed: int | None = None, threads: int | None = None) -> None:
    """Seed every generator, make ops deterministic, bound CPU threads, let GPU memory grow."""
    import keras
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        # Without this TensorFlow claims all GPU memory on start-up.
        tf.config.experimental.set_memory_growth(gpu, True)
    if seed is not None:
        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
