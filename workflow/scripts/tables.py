"""The study's tables as HTML pages for the report (CSV files can only be downloaded there)."""

import pandas as pd

from ablate import status
from ablate.logs import log_to
from ablate.results import tables

study, factors = snakemake.wildcards.study, snakemake.params.factors
source, output = snakemake.input, snakemake.output
with log_to(snakemake.log[0]):
    summary = pd.read_csv(source.summary, dtype={"cell": str})
    digest = tables.summary_digest(summary, factors)
    tables.write_html(
        digest,
        output.summary,
        f"Study {study}: the cells compared",
        "Test accuracy: mean over finished seeds with its 95 % interval. 'vs baseline': "
        "the paired difference from the baseline over shared seeds, with its interval and "
        "the paired t-test's p. Highlighted rows have warnings (see warnings). Every "
        f"statistic is in results/{study}/summary.csv.",
        flagged=digest["warnings"] != "",
        baseline=summary["baseline"],
    )
    warnings = pd.read_csv(source.warnings, dtype={"cell": str}, keep_default_na=False)
    tables.write_html(
        warnings,
        output.warnings,
        f"Study {study}: warnings",
        "One row per finding; an empty cell column means the whole study.",
    )
    tables.write_html(
        pd.read_csv(source.effects),
        output.effects,
        f"Study {study}: main effects and two-factor interactions on test accuracy",
        "Estimated per seed and summarised over seeds (95 % interval, one-sample t-test). "
        "Empty unless the design is a full factorial.",
    )
    runs = pd.read_csv(source.runs, dtype={"cell": str})
    tables.write_html(
        runs,
        output.runs,
        f"Study {study}: every run",
        "One row per cell x seed; failed runs are highlighted with their reason.",
        flagged=runs["status"] != status.OK,
    )
