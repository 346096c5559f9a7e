"""The study as run: its config (defaults filled in) and every cell's resolved settings, as
YAML and as a page for the report."""

from pathlib import Path

import yaml

from ablate import provenance
from ablate.logs import log_to
from ablate.results.tables import write_text_page

with log_to(snakemake.log[0]) as log:
    study = {"config": snakemake.params.config, "cells": snakemake.params.cells,
             "provenance": provenance.record()}  # fmt: skip
    text = yaml.safe_dump(study, sort_keys=False)
    Path(snakemake.output.yaml).write_text(text)
    write_text_page(
        text,
        snakemake.output.html,
        f"Study {snakemake.wildcards.study}: the config as run",
        "Under 'config' the study's config with every default filled in; under 'cells' "
        "each cell's factor levels and the training settings they resolve to; under "
        "'provenance' the workflow's git commit and the versions that described it (each "
        "run's params.yaml holds its own).",
    )
    log.info("%d cells described", len(snakemake.params.cells))
