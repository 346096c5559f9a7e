rule aggregate:
    input:
        train=run_paths("results/{study}/cells/{cell}/seed-{seed}/train.json"),
        test=run_paths("results/{study}/cells/{cell}/seed-{seed}/test/metrics.json"),
        history=run_paths("results/{study}/cells/{cell}/seed-{seed}/history.csv"),
    output:
        runs=report(
            "results/{study}/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
        ),
        summary=report(
            "results/{study}/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        history="results/{study}/history.csv",
    log:
        "results/{study}/logs/aggregate.log",
    benchmark:
        "results/{study}/benchmarks/aggregate.tsv"
    conda:
        "../../envs/ablate.yaml"
    params:
        runs=run_table(),
        factors=STUDY.factors,
        baseline=STUDY.baseline,
    script:
        "../scripts/aggregate.py"


rule figures:
    input:
        runs="results/{study}/runs.csv",
        history="results/{study}/history.csv",
    output:
        val_accuracy=report(
            "results/{study}/figures/val_accuracy.png",
            caption="../report/val_accuracy.rst",
            category="Learning curves",
        ),
        val_loss=report(
            "results/{study}/figures/val_loss.png",
            caption="../report/val_loss.rst",
            category="Learning curves",
        ),
        test_accuracy=report(
            "results/{study}/figures/test_accuracy.png",
            caption="../report/test_accuracy.rst",
            category="Comparison",
        ),
        factor_effects=report(
            "results/{study}/figures/factor_effects.png",
            caption="../report/factor_effects.rst",
            category="Comparison",
        ),
    log:
        "results/{study}/logs/figures.log",
    benchmark:
        "results/{study}/benchmarks/figures.tsv"
    conda:
        "../../envs/ablate.yaml"
    params:
        factors=STUDY.factors,
        baseline=STUDY.baseline,
    script:
        "../scripts/figures.py"
