"""The study's figures (seaborn + matplotlib, PNG), one module per family.

Figures only draw what the aggregate step computed (summary.csv, effects.csv,
level_means.csv, runs.csv, history.csv, the runs' confusion matrices): no statistic is
estimated here, so a figure and a table of the same study cannot disagree. Every drawing
function writes exactly one PNG (a panel that says why when there is nothing to draw),
closes its figure and returns what it drew, so tests can check the content without pixels.
Failed runs are left out; long cell names (``factor-level__factor-level``) wrap at ``__``.
"""

from ablate.results.figures.accuracy import test_accuracy
from ablate.results.figures.confusion import confusion_matrices
from ablate.results.figures.curves import learning_curves, train_validation_gap
from ablate.results.figures.effects import drawn_effects, factor_effects, heatmap, interactions
from ablate.results.figures.timing import timing

__all__ = [
    "confusion_matrices",
    "drawn_effects",
    "factor_effects",
    "heatmap",
    "interactions",
    "learning_curves",
    "test_accuracy",
    "timing",
    "train_validation_gap",
]
