"""Split the data set into train/validation/test folders; write the manifest, the
inventory of every file and what the split found (quarantine, conflicts, near-copies)."""

from ablate.data.split import split_dataset
from ablate.logs import log_to

with log_to(snakemake.log[0]) as log:
    manifest = split_dataset(
        raw_dir=snakemake.input[0],
        split_dir=snakemake.output.split,
        manifest_path=snakemake.output.manifest,
        quarantine_path=snakemake.output.quarantine,
        inventory_path=snakemake.output.inventory,
        conflicts_path=snakemake.output.conflicts,
        near_duplicates_path=snakemake.output.near_duplicates,
        split=snakemake.params.split,
        labels=snakemake.params.labels,
    )
    log.info("images per split:\n%s", manifest.groupby(["split", "class"]).size().unstack())
