"""The default study, exactly as `make run` runs it: minutes, so marked slow (CI runs it)."""

import shutil

import pandas as pd
import pytest
from conftest import REPO, snakemake


@pytest.mark.slow
def test_default_study_best_cell_reaches_097_mean_test_accuracy(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    snakemake(tmp_path, "--cores", "4", "--resources", "gpu=1", "--show-failed-logs")
    summary = pd.read_csv(tmp_path / "results" / "digits-regularization" / "summary.csv")
    assert len(summary) == 6
    assert (summary["n"] == 2).all()
    assert summary["test_accuracy_mean"].max() >= 0.97, summary.to_string()
