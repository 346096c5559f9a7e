"""Train one cell with one seed and keep its best checkpoint."""

from ablate.logs import log_to
from ablate.train import runtime
from ablate.train.training import train_cell

with log_to(snakemake.log[0]):
    train_cell(
        inputs={"train": snakemake.input.train, "validation": snakemake.input.validation},
        manifest=snakemake.input.manifest,
        settings=snakemake.params.settings,
        dataset=snakemake.params.dataset,
        description=snakemake.params.description,
        seed=int(snakemake.wildcards.seed),
        threads=snakemake.threads,
        model_path=snakemake.output.model,
        history_path=snakemake.output.history,
        params_path=snakemake.output.params,
        summary_path=snakemake.output.summary,
        state_dir=snakemake.params.state,
        runs_per_gpu=snakemake.resources.runs_per_gpu,
        gpu_memory_mb=getattr(snakemake.resources, "gpu_memory_mb", None),  # unset: None
    )
runtime.skip_final_collection()
