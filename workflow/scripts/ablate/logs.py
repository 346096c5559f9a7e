"""Send everything a step prints, TensorFlow's C++ logging included, to its Snakemake log."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def log_to(path: str | Path) -> Iterator[logging.Logger]:
    """Redirect file descriptors 1 and 2 to ``path`` (C++ libraries write to them directly)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w", buffering=1) as log_file:
        os.dup2(log_file.fileno(), 1)
        os.dup2(log_file.fileno(), 2)
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        logger = logging.getLogger("ablate")
        # Which code ran: the workflow's own package (see common.smk), recorded per job.
        logger.info("ablate package: %s", Path(__file__).resolve().parent)
        try:
            yield logger
        except BaseException:
            logging.getLogger("ablate").exception("step failed")
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for descriptor in saved:
                os.close(descriptor)
