"""Draw the comparison figures from the aggregated tables."""

import pandas as pd

from ablate.logs import log_to
from ablate.results import figures

params, output = snakemake.params, snakemake.output
with log_to(snakemake.log[0]):
    runs = pd.read_csv(snakemake.input.runs, dtype={"cell": str})
    history = pd.read_csv(snakemake.input.history, dtype={"cell": str})
    confusion = {
        (run["cell"], run["seed"]): path
        for run, path in zip(params.runs, snakemake.input.confusion, strict=True)
    }
    figures.test_accuracy(runs, params.baseline, output.test_accuracy)
    figures.factor_effects(runs, params.factors, output.factor_effects)
    figures.interactions(runs, params.factors, output.interactions)
    figures.heatmap(runs, params.factors, output.heatmap, baseline=params.baseline)
    figures.learning_curves(history, "val_accuracy", output.val_accuracy, runs=runs)
    figures.learning_curves(history, "val_loss", output.val_loss, runs=runs)
    figures.train_validation_gap(history, output.train_validation_gap, runs=runs)
    figures.confusion_matrices(runs, confusion, output.confusion_matrices)
    figures.timing(runs, output.timing)
