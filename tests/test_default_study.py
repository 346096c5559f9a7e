"""The default study, exactly as `make run` runs it, and its report opened in a real
headless Chromium: minutes, so marked slow (CI runs it)."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from browser import Report, chromium
from conftest import REPO, snakemake

STUDY = "digits-scarce"
CATEGORIES = ["1. Summary and warnings", "2. Comparison of cells", "3. Learning curves",
              "4. Errors per class", "5. Time and throughput"]  # fmt: skip
FIGURES = {
    "2. Comparison of cells": ["test_accuracy", "factor_effects", "interactions", "heatmap"],
    "3. Learning curves": ["val_accuracy", "val_loss", "train_validation_gap"],
    "4. Errors per class": ["confusion_matrices"],
    "5. Time and throughput": ["timing"],
}
# What each table's page must show: proof that it holds the study's numbers.
TABLES = {
    "summary": [
        "baseline",
        "test accuracy [95% CI]",
        "vs baseline",
        "heavy",
        "verdict",
        "P(improvement)",
        "seed advice",
    ],
    "warnings": ["check", "message"],
    "effects": ["main", "interaction", "vs dropout=none", "verdict", "prob_improvement"],
    "runs": ["seed", "test_accuracy", "augmentation-geometric__dropout-none"],
    "study": ["small_convnet", "dropout-0.3", "seeds"],
}


@pytest.fixture(scope="module")
def default_study(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("default")
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    snakemake(workdir, "--cores", "4", "--resources", "gpu=1", "--show-failed-logs")
    return workdir


@pytest.mark.slow
def test_default_study_learns_the_digits(default_study):
    summary = pd.read_csv(default_study / "results" / STUDY / "summary.csv")
    assert len(summary) == 6
    assert (summary["n"] == 2).all()
    # Far above chance (0.1) from 20 images per class: a margin that any CPU reaches (which
    # cell is best, and by how much, is left to the run).
    assert summary["test_accuracy_mean"].max() >= 0.8, summary.to_string()
    # Intervals over seeds and test images: inside [0, 1], never of zero width; a verdict
    # and, where undecided, seed advice for every cell but the baseline.
    low, high = summary["test_accuracy_ci_low"], summary["test_accuracy_ci_high"]
    assert ((low >= 0) & (low < summary["test_accuracy_mean"]) & (high <= 1)).all()
    assert ((high - low) > 0.005).all()
    compared = summary[~summary["baseline"]]
    assert set(compared["vs_baseline_verdict"]) <= {"better", "worse", "no difference",
                                                    "undecided"}  # fmt: skip
    assert compared["vs_baseline_prob_improvement"].between(0, 1).all()
    undecided = compared[compared["vs_baseline_verdict"] == "undecided"]
    assert (undecided["vs_baseline_advice"].str.len() > 20).all()
    predictions = sorted(
        (default_study / "results" / STUDY / "cells").glob("*/seed-*/test/predictions.csv")
    )
    assert len(predictions) == 12
    effects = pd.read_csv(default_study / "results" / STUDY / "effects.csv")
    # 3 x 2 full factorial: 2 + 1 main effects, 2 x 1 interactions
    assert effects["term"].tolist() == ["main"] * 3 + ["interaction"] * 2


@pytest.mark.slow
def test_the_factor_effects_figure_draws_effects_csv(default_study, tmp_path):
    """Figures only draw what the aggregate computed: the effects read back from the
    figure's markers and interval lines are effects.csv's main effects, exactly."""
    from ablate.results import figures

    folder = default_study / "results" / STUDY
    levels = {"level_a": str, "level_b": str}
    effects = pd.read_csv(folder / "effects.csv", dtype=levels)
    summary = pd.read_csv(folder / "summary.csv")
    drawn = figures.factor_effects(effects, summary, tmp_path / "factor_effects.png")
    main = effects[effects["term"] == "main"].reset_index(drop=True)
    columns = ["factor_a", "level_a", "estimate", "ci_low", "ci_high"]
    assert len(main) == 3
    pd.testing.assert_frame_equal(figures.drawn_effects(drawn), main[columns], check_exact=True)


@pytest.mark.slow
def test_report_opens_in_chromium_with_every_figure_table_and_caption(default_study, tmp_path):
    report = tmp_path / "report.html"
    snakemake(default_study, "--report", str(report))
    # ABLATE_SCREENSHOTS=<folder> keeps a screenshot of every view, to look at.
    screenshots = Path(os.environ.get("ABLATE_SCREENSHOTS", tmp_path / "screenshots"))
    with chromium() as driver:
        opened = Report(driver, report)
        assert opened.categories() == CATEGORIES
        shown = opened.walk(screenshots)
    prefix = f"results/{STUDY}"
    for category, names in FIGURES.items():
        for name in names:
            figure = shown[f"{prefix}/figures/{name}.png"]
            assert (figure.category, figure.kind) == (category, "image"), name
            assert figure.width >= 600 and figure.height >= 300, (name, figure)
    for name, expected in TABLES.items():
        page = shown[f"{prefix}/tables/{name}.html"]
        assert (page.category, page.subcategory, page.kind) == (CATEGORIES[0], "Tables", "html")
        for text in expected:
            assert text in page.text, (name, text, page.text[:500])
    for name in ["summary.csv", "warnings.csv", "effects.csv", "runs.csv", "study.yaml"]:
        assert shown[f"{prefix}/{name}"].kind == "download", name
    for path, result in shown.items():
        assert len(result.caption) > 40, (path, result.caption)
    assert (screenshots / f"results_{STUDY}_figures_test_accuracy.png.png").stat().st_size > 0
