"""Decode and resize one split's images once into array files every train job reads."""

from ablate.data.arrays import decode_split
from ablate.logs import log_to
from ablate.train import runtime

with log_to(snakemake.log[0]):
    runtime.configure(threads=snakemake.threads, claim=0)  # CPU work: leave GPUs to training
    decode_split(
        split_dir=snakemake.input.split,
        manifest=snakemake.input.manifest,
        split=snakemake.wildcards.split,
        images_path=snakemake.output.images,
        labels_path=snakemake.output.labels,
        **snakemake.params.dataset,
    )
