"""Score the best checkpoint of one cell x seed on the test split."""

from ablate.train import runtime

# First, before NumPy or TensorFlow start threads: evaluate runs beside the next train job.
runtime.run_in_background()

from ablate.logs import log_to  # noqa: E402
from ablate.results.evaluation import evaluate_model  # noqa: E402

with log_to(snakemake.log[0]):
    evaluate_model(
        model_path=snakemake.input.model,
        train_summary=snakemake.input.summary,
        test=snakemake.input.test,
        dataset=snakemake.params.dataset,
        manifest=snakemake.input.manifest,
        batch_size=snakemake.params.batch_size,
        threads=snakemake.threads,
        metrics_path=snakemake.output.metrics,
        per_class_path=snakemake.output.per_class,
        confusion_path=snakemake.output.confusion,
        predictions_path=snakemake.output.predictions,
    )
runtime.skip_final_collection()
