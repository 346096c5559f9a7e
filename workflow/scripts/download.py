"""Fetch the data set named by dataset.source into one folder per class."""

from ablate import paths
from ablate.data.sources import fetch
from ablate.logs import log_to

with log_to(snakemake.log[0]) as log:
    log.info("fetching %s", snakemake.params.source)
    if snakemake.params.fingerprint:  # a dir: source: what `snakemake -n` compares
        log.info("source fingerprint: %s", snakemake.params.fingerprint)
    fetch(
        snakemake.params.source,
        snakemake.output[0],
        **snakemake.params.options,
        # Locations, not content: outside params so that moving them reruns nothing.
        # Downloads live outside the study's outputs: a failed one resumes, studies share it.
        downloads=paths.DOWNLOADS,
        tfds_data_dir=snakemake.config["dataset"]["tfds_data_dir"],
    )
