"""Draw the study's figures from the aggregate's tables (they compute nothing themselves)."""

from ablate.logs import log_to
from ablate.results import figures
from ablate.results.io import read_table

source, params, output = snakemake.input, snakemake.params, snakemake.output
levels = dict.fromkeys(params.factors, str)  # level names stay text ("1" is not 1)
with log_to(snakemake.log[0]):
    runs = read_table(source.runs, dtype={"cell": str, **levels})
    summary = read_table(source.summary, dtype={"cell": str, **levels})
    effects = read_table(source.effects, dtype={"level_a": str, "level_b": str})
    level_means = read_table(source.level_means, dtype={"level_a": str, "level_b": str})
    history = read_table(source.history, dtype={"cell": str})
    confusion = {
        (run["cell"], run["seed"]): path
        for run, path in zip(params.runs, source.confusion, strict=True)
    }
    figures.test_accuracy(summary, runs, output.test_accuracy)
    figures.factor_effects(effects, summary, output.factor_effects)
    figures.interactions(level_means, params.factors, output.interactions)
    figures.heatmap(summary, params.factors, output.heatmap)
    figures.learning_curves(history, "val_accuracy", output.val_accuracy, runs=runs)
    figures.learning_curves(history, "val_loss", output.val_loss, runs=runs)
    figures.train_validation_gap(history, output.train_validation_gap, runs=runs)
    figures.confusion_matrices(runs, confusion, output.confusion_matrices)
    figures.timing(summary, runs, output.timing)
