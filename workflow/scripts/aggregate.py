"""Tidy tables of the whole study: per run, per cell (over seeds), per epoch, the effects of
the factors, the means per factor level, and the warnings; a partial study (failed cells) is
summarised too. Every statistic of the study is computed here; the figures only draw them."""

import sys

import pandas as pd

from ablate import status
from ablate.logs import log_to
from ablate.results import checks, statistics
from ablate.results.aggregate import collect_histories, collect_runs, summarise

params, output = snakemake.params, snakemake.output
with log_to(snakemake.log[0]) as log:
    runs = collect_runs(
        snakemake.wildcards.study,
        params.runs,
        snakemake.input.train,
        snakemake.input.test,
        not_run=params.not_run,
    )
    history = collect_histories(params.runs, snakemake.input.history)
    manifest = pd.read_csv(snakemake.input.manifest)
    warnings = checks.study_warnings(runs, history, manifest, params.divergence_gap)
    summary = summarise(runs, params.factors, params.baseline, warnings)
    effects = statistics.factor_effects(
        runs, params.factors, params.baseline_levels, "test_accuracy"
    )
    level_means = statistics.level_means(runs, params.factors, "test_accuracy")
    runs.to_csv(output.runs, index=False)
    summary.to_csv(output.summary, index=False)
    effects.to_csv(output.effects, index=False)
    level_means.to_csv(output.level_means, index=False)
    warnings.to_csv(output.warnings, index=False)
    history.to_csv(output.history, index=False)
    log.info("summary:\n%s", summary.to_string())
    for row in warnings.itertuples():
        log.warning("%s %s: %s", row.cell or "study", row.check, row.message)
    if missing := checks.missing_cells(runs):
        log.warning("cells without any result: %s", ", ".join(missing))
    if status.ok(runs).empty:
        raise RuntimeError("no run finished: nothing to compare (reasons in the log above).")

if len(warnings):
    # Where snakemake runs, so the warnings are seen without opening the report.
    lines = [
        f"  {check} ({len(rows)}x), e.g. {rows['cell'].iloc[0] or 'study'}: "
        f"{rows['message'].iloc[0]}"
        for check, rows in warnings.groupby("check", sort=False)
    ]
    print(
        f"ablate: {len(warnings)} warning(s) about study {snakemake.wildcards.study}, "
        f"all listed in {output.warnings}:",
        *lines,
        sep="\n",
        file=sys.stderr,
    )
