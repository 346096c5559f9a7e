"""Fetch the data set named by dataset.source into one folder per class."""

from ablate.logs import log_to
from ablate.sources import fetch

with log_to(snakemake.log[0]) as log:
    log.info("fetching %s", snakemake.params.source)
    fetch(snakemake.params.source, snakemake.output[0], **snakemake.params.options)
