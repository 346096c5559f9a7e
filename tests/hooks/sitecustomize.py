"""Test hook for train jobs (tests/test_slurm.py, tests/test_resume.py; conftest.holding):
with ABLATE_TEST_HOLD_AFTER_EPOCH=N and ABLATE_TEST_HOLD_MARK=FILE in the environment, the
first train job to finish epoch N (its backup written) creates FILE and waits there until
it is cancelled or killed, so that the test stops it at a known point instead of racing
it. Later jobs see FILE and do not wait.

Loaded by Python at start-up from PYTHONPATH (as every sitecustomize is); it only patches
ablate.train.training once a process imports it, so nothing else is slowed down.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import time
from pathlib import Path

HOLD_AFTER = os.environ.get("ABLATE_TEST_HOLD_AFTER_EPOCH")
MARK = os.environ.get("ABLATE_TEST_HOLD_MARK")


def patch(training):
    import keras

    own = training.callbacks

    def hold(epoch, logs):
        if epoch + 1 == int(HOLD_AFTER) and not Path(MARK).exists():
            Path(MARK).write_text(f"{os.getpid()}\n")
            while True:  # until scancel ends the job
                time.sleep(1)

    def with_hold(*args, **kwargs):
        return [*own(*args, **kwargs), keras.callbacks.LambdaCallback(on_epoch_end=hold)]

    training.callbacks = with_hold


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "ablate.train.training":
            return None
        sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec = find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            patch(module)

        spec.loader.exec_module = exec_module
        return spec


if HOLD_AFTER and MARK:
    sys.meta_path.insert(0, _PatchOnImport())
