"""What became of a run: the one definition every stage and table uses.

A train job writes ``status`` into ``train.json``; the aggregate copies it into ``runs.csv``
and adds ``not_run`` for runs without result files (a partial study).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OK = "ok"  # trained, its best checkpoint evaluated on the test split
FAILED = "failed"  # trained but recorded as failed (loss went NaN, out of memory)
NOT_RUN = "not_run"  # no result files yet (partial study) or the job itself failed
STATUSES = (OK, FAILED, NOT_RUN)


def succeeded(train_summary: Mapping[str, Any]) -> bool:
    """Whether a run's ``train.json`` records a successful training."""
    return train_summary["status"] == OK


def ok(runs: Any) -> Any:
    """The rows of a runs table (pandas) whose run succeeded."""
    return runs[runs["status"] == OK]
