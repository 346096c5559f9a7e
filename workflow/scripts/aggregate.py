"""Tidy tables of the whole study: per run, per cell (over seeds), per epoch, the effects of
the factors, the means per factor level, and the warnings; a partial study (failed cells) is
summarised too. Every statistic of the study is computed here; the figures only draw them."""

import json
import sys
from pathlib import Path

from ablate import status
from ablate.data.manifest import read_manifest
from ablate.logs import log_to
from ablate.results import checks, statistics
from ablate.results import effects as effects_module
from ablate.results.aggregate import collect_histories, collect_runs, summarise
from ablate.results.effects import factor_effects
from ablate.results.io import read_table
from ablate.results.outcomes import collect_outcomes

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
    outcomes = collect_outcomes(runs, params.runs, snakemake.input.predictions)
    manifest = read_manifest(snakemake.input.manifest)
    warnings = checks.study_warnings(
        runs,
        history,
        manifest,
        params.checks["divergence_gap"],
        near_duplicates=read_table(snakemake.input.near_duplicates),
        conflicting_labels=read_table(snakemake.input.conflicting_labels),
    )
    min_effect = params.checks["min_effect"]
    multiplicity = params.checks["multiplicity"]
    # An adaptive study: every cell's state after its last round (ablate.results.sequential)
    rounds = (
        json.loads(Path(snakemake.input.rounds[-1]).read_text())["cells"]
        if snakemake.input.rounds
        else None
    )
    summary = summarise(runs, params.factors, params.baseline, outcomes, min_effect, warnings,
                        rounds=rounds, looks=params.looks, multiplicity=multiplicity)  # fmt: skip
    effects = factor_effects(runs, params.factors, params.baseline_levels, outcomes, min_effect,
                             multiplicity)  # fmt: skip
    level_means = effects_module.level_means(runs, params.factors, outcomes)
    runs.to_csv(output.runs, index=False)
    summary.to_csv(output.summary, index=False)
    effects.to_csv(output.effects, index=False)
    level_means.to_csv(output.level_means, index=False)
    warnings.to_csv(output.warnings, index=False)
    history.to_csv(output.history, index=False)
    log.info("summary:\n%s", summary.to_string())
    verdicts = statistics.verdict_lines(summary)
    log.info("verdicts against the baseline:\n%s", "\n".join(verdicts))
    for row in warnings.itertuples():
        log.warning("%s %s: %s", row.cell or "study", row.check, row.message)
    if missing := checks.missing_cells(runs):
        log.warning("cells without any result: %s", ", ".join(missing))
    if status.ok(runs).empty and not params.not_run:  # a partial look may precede them
        raise RuntimeError("no run finished: nothing to compare (reasons in the log above).")

if verdicts:
    # The answer of the study, where snakemake runs (the rule is in the README and report).
    print(
        f"ablate: study {snakemake.wildcards.study}, test accuracy against the baseline "
        f"(verdicts with min_effect {min_effect:g}; details in {output.summary}):",
        f"  rule: {statistics.family_rule(summary)}",
        *(f"  {line}" for line in verdicts),
        sep="\n",
        file=sys.stderr,
    )
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
