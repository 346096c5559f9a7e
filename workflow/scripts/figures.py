"""Draw the comparison figures from the aggregated tables."""

import pandas as pd

from ablate import figures
from ablate.logs import log_to

with log_to(snakemake.log[0]):
    runs = pd.read_csv(snakemake.input.runs, dtype={"cell": str})
    history = pd.read_csv(snakemake.input.history, dtype={"cell": str})
    figures.learning_curves(history, "val_accuracy", snakemake.output.val_accuracy)
    figures.learning_curves(history, "val_loss", snakemake.output.val_loss)
    figures.test_accuracy(runs, snakemake.params.baseline, snakemake.output.test_accuracy)
    figures.factor_effects(runs, snakemake.params.factors, snakemake.output.factor_effects)
