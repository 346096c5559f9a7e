"""The study's tables as HTML pages for the report (CSV files can only be downloaded there)."""

from ablate import status
from ablate.logs import log_to
from ablate.results import statistics, tables
from ablate.results.io import read_table

study, factors = snakemake.wildcards.study, snakemake.params.factors
source, output = snakemake.input, snakemake.output
with log_to(snakemake.log[0]):
    summary = read_table(source.summary, dtype={"cell": str})
    digest = tables.summary_digest(summary, factors)
    tables.write_html(
        digest,
        output.summary,
        f"Study {study}: the cells compared",
        "Test accuracy: mean over finished seeds with its 95 % interval over seeds and test "
        "images. 'vs baseline': the difference from the baseline, paired by seed and test "
        "image, with its interval, p-value (p: Holm-adjusted where the study's comparisons "
        "share the 5 %), the probability that a run of the cell beats a "
        "run of the baseline, and the verdict: better / worse (significant and P(improvement) "
        "at least 0.75 or at most 0.25), no difference (the whole interval within +/- "
        "checks.min_effect), else undecided, with the seeds that would decide it. One seed "
        "is always undecided: it cannot tell training randomness from a real difference. "
        f"Rule of these verdicts: {statistics.family_rule(summary)}. "
        "In an adaptive study each verdict is taken at the round that stopped the cell, at "
        "that round's stricter level (its interval is wider than 95 %), and 'stopped because' "
        "says why the cell got no more seeds. "
        "Highlighted rows have warnings (see warnings). Every statistic is in "
        f"results/{study}/summary.csv.",
        flagged=digest["warnings"] != "",
        baseline=summary["baseline"],
    )
    warnings = read_table(source.warnings, dtype={"cell": str})
    tables.write_html(
        warnings,
        output.warnings,
        f"Study {study}: warnings",
        "One row per finding; an empty cell column means the whole study.",
    )
    tables.write_html(
        read_table(source.effects),
        output.effects,
        f"Study {study}: main effects and two-factor interactions on test accuracy",
        "Contrasts of the cells' per-image outcomes over the seeds every cell finished: "
        "estimate with its 95 % interval over seeds and test images, p-value, probability "
        "of improvement and verdict, as for a comparison with the baseline (the effects are "
        "their own family: see 'rule'). 'aliases' names "
        "the interactions an effect is confounded with in a fractional or screening design. "
        "Empty for one-at-a-time and list designs.",
    )
    runs = read_table(source.runs, dtype={"cell": str})
    tables.write_html(
        runs,
        output.runs,
        f"Study {study}: every run",
        "One row per cell x seed; failed runs are highlighted with their reason.",
        flagged=runs["status"] != status.OK,
    )
