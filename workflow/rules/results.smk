rule aggregate:
    input:
        train=run_paths("results/{study}/cells/{cell}/seed-{seed}/train.json"),
        test=run_paths("results/{study}/cells/{cell}/seed-{seed}/test/metrics.json"),
        history=run_paths("results/{study}/cells/{cell}/seed-{seed}/history.csv"),
        manifest="results/{study}/data/manifest.csv",
    output:
        summary=report(
            "results/{study}/summary.csv",
            caption="../report/summary.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        warnings=report(
            "results/{study}/warnings.csv",
            caption="../report/warnings.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        effects=report(
            "results/{study}/effects.csv",
            caption="../report/effects.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        runs=report(
            "results/{study}/runs.csv",
            caption="../report/runs.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
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
        not_run=run_table(NOT_RUN),
        factors=STUDY.factors,
        baseline=STUDY.baseline,
        baseline_levels=STUDY.baseline_levels,
        divergence_gap=config["checks"]["divergence_gap"],
    script:
        "../scripts/aggregate.py"


rule tables:
    input:
        summary="results/{study}/summary.csv",
        warnings="results/{study}/warnings.csv",
        effects="results/{study}/effects.csv",
        runs="results/{study}/runs.csv",
    output:
        summary=report(
            "results/{study}/tables/summary.html",
            caption="../report/summary.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        warnings=report(
            "results/{study}/tables/warnings.html",
            caption="../report/warnings.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        effects=report(
            "results/{study}/tables/effects.html",
            caption="../report/effects.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        runs=report(
            "results/{study}/tables/runs.html",
            caption="../report/runs.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
    log:
        "results/{study}/logs/tables.log",
    conda:
        "../../envs/ablate.yaml"
    params:
        factors=STUDY.factors,
    script:
        "../scripts/tables.py"


rule describe:
    output:
        yaml=report(
            "results/{study}/study.yaml",
            caption="../report/study.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        html=report(
            "results/{study}/tables/study.html",
            caption="../report/study.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
    log:
        "results/{study}/logs/describe.log",
    conda:
        "../../envs/ablate.yaml"
    params:
        config={key: value for key, value in config.items() if key != "partial"},
        cells=cell_table(),
    script:
        "../scripts/describe.py"


rule figures:
    input:
        runs="results/{study}/runs.csv",
        history="results/{study}/history.csv",
        confusion=run_paths(
            "results/{study}/cells/{cell}/seed-{seed}/test/confusion_matrix.csv"
        ),
    output:
        test_accuracy=report(
            "results/{study}/figures/test_accuracy.png",
            caption="../report/test_accuracy.rst",
            category="2. Comparison of cells",
        ),
        factor_effects=report(
            "results/{study}/figures/factor_effects.png",
            caption="../report/factor_effects.rst",
            category="2. Comparison of cells",
        ),
        interactions=report(
            "results/{study}/figures/interactions.png",
            caption="../report/interactions.rst",
            category="2. Comparison of cells",
        ),
        heatmap=report(
            "results/{study}/figures/heatmap.png",
            caption="../report/heatmap.rst",
            category="2. Comparison of cells",
        ),
        val_accuracy=report(
            "results/{study}/figures/val_accuracy.png",
            caption="../report/val_accuracy.rst",
            category="3. Learning curves",
        ),
        val_loss=report(
            "results/{study}/figures/val_loss.png",
            caption="../report/val_loss.rst",
            category="3. Learning curves",
        ),
        train_validation_gap=report(
            "results/{study}/figures/train_validation_gap.png",
            caption="../report/train_validation_gap.rst",
            category="3. Learning curves",
        ),
        confusion_matrices=report(
            "results/{study}/figures/confusion_matrices.png",
            caption="../report/confusion_matrices.rst",
            category="4. Errors per class",
        ),
        timing=report(
            "results/{study}/figures/timing.png",
            caption="../report/timing.rst",
            category="5. Time and throughput",
        ),
    log:
        "results/{study}/logs/figures.log",
    benchmark:
        "results/{study}/benchmarks/figures.tsv"
    conda:
        "../../envs/ablate.yaml"
    params:
        runs=run_table(),
        factors=STUDY.factors,
        baseline=STUDY.baseline,
    script:
        "../scripts/figures.py"
