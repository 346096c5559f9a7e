"""Tidy tables of the whole study: per run, per cell (over seeds), per epoch."""

from ablate.aggregate import collect_histories, collect_runs, summarise
from ablate.logs import log_to

with log_to(snakemake.log[0]) as log:
    runs = collect_runs(
        snakemake.wildcards.study,
        snakemake.params.runs,
        snakemake.input.train,
        snakemake.input.test,
    )
    runs.to_csv(snakemake.output.runs, index=False)
    summary = summarise(runs, snakemake.params.factors, snakemake.params.baseline)
    summary.to_csv(snakemake.output.summary, index=False)
    collect_histories(snakemake.params.runs, snakemake.input.history).to_csv(
        snakemake.output.history, index=False
    )
    log.info("summary:\n%s", summary.to_string())
