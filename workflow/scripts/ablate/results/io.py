"""Reading the study's CSV tables back: only empty cells are missing values, so a class or a
level named NA, nan or null stays text (pandas' default would read them as NaN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def read_table(path: str | Path, **options: Any) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""], **options)
