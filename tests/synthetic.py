"""Per-image test outcomes that match a runs table, for tests of the results stage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ablate import status
from ablate.results.outcomes import Outcomes

IMAGES = 1000


def outcomes_of(runs: pd.DataFrame, images: int = IMAGES) -> Outcomes:
    """Every ok run gets the first round(test_accuracy * images) images right (two
    classes: right or wrong), so contrasts between runs are exact to 1 / images and their
    noise comes from the seeds alone."""
    predicted = {}
    for run in status.ok(runs).itertuples():
        right = np.arange(images) < round(run.test_accuracy * images)
        predicted[(run.cell, int(run.seed))] = np.where(right, 0, 1)
    names = [f"test/0/{i:04d}.png" for i in range(images)]
    return Outcomes(names, ["0", "1"], np.zeros(images, dtype=int), predicted)
