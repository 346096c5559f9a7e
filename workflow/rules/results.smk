rule aggregate:
    input:
        train=run_paths(paths.TRAIN_SUMMARY),
        test=run_paths(paths.TEST_METRICS),
        history=run_paths(paths.HISTORY),
        predictions=run_paths(paths.PREDICTIONS),
        rounds=lambda wildcards: decisions() if ADAPTIVE else [],
        manifest=paths.MANIFEST,
        near_duplicates=paths.NEAR_DUPLICATES,
        conflicting_labels=paths.CONFLICTING_LABELS,
    output:
        summary=report(
            paths.SUMMARY,
            caption="../report/summary.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        warnings=report(
            paths.WARNINGS,
            caption="../report/warnings.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        effects=report(
            paths.EFFECTS,
            caption="../report/effects.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        runs=report(
            paths.RUNS,
            caption="../report/runs.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        level_means=report(
            paths.LEVEL_MEANS,
            caption="../report/level_means.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        history=paths.STUDY_HISTORY,
    log:
        paths.log("aggregate"),
    benchmark:
        paths.benchmark("aggregate")
    conda:
        "../../envs/ablate.yaml"
    params:
        runs=summarised_runs,
        not_run=run_table(NOT_RUN),
        factors=STUDY.factors,
        baseline=STUDY.baseline,
        baseline_levels=STUDY.baseline_levels,
        checks=STUDY.checks.as_dict(),
        looks=LOOKS,
    script:
        "../scripts/aggregate.py"


rule tables:
    input:
        summary=paths.SUMMARY,
        warnings=paths.WARNINGS,
        effects=paths.EFFECTS,
        runs=paths.RUNS,
    output:
        summary=report(
            paths.table("summary"),
            caption="../report/summary.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        warnings=report(
            paths.table("warnings"),
            caption="../report/warnings.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        effects=report(
            paths.table("effects"),
            caption="../report/effects.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
        runs=report(
            paths.table("runs"),
            caption="../report/runs.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
    log:
        paths.log("tables"),
    conda:
        "../../envs/ablate.yaml"
    params:
        factors=STUDY.factors,
    script:
        "../scripts/tables.py"


rule describe:
    output:
        yaml=report(
            paths.DESCRIPTION,
            caption="../report/study.rst",
            category="1. Summary and warnings",
            subcategory="Tables as files (download)",
        ),
        html=report(
            paths.table("study"),
            caption="../report/study.rst",
            category="1. Summary and warnings",
            subcategory="Tables",
        ),
    log:
        paths.log("describe"),
    conda:
        "../../envs/ablate.yaml"
    params:
        config={k: v for k, v in config.items() if k not in ("partial", "mlflow")},
        cells=cell_table(),
    script:
        "../scripts/describe.py"


rule figures:
    input:
        runs=paths.RUNS,
        summary=paths.SUMMARY,
        effects=paths.EFFECTS,
        level_means=paths.LEVEL_MEANS,
        history=paths.STUDY_HISTORY,
        confusion=run_paths(paths.CONFUSION),
    output:
        test_accuracy=report(
            paths.figure("test_accuracy"),
            caption="../report/test_accuracy.rst",
            category="2. Comparison of cells",
        ),
        factor_effects=report(
            paths.figure("factor_effects"),
            caption="../report/factor_effects.rst",
            category="2. Comparison of cells",
        ),
        interactions=report(
            paths.figure("interactions"),
            caption="../report/interactions.rst",
            category="2. Comparison of cells",
        ),
        heatmap=report(
            paths.figure("heatmap"),
            caption="../report/heatmap.rst",
            category="2. Comparison of cells",
        ),
        val_accuracy=report(
            paths.figure("val_accuracy"),
            caption="../report/val_accuracy.rst",
            category="3. Learning curves",
        ),
        val_loss=report(
            paths.figure("val_loss"),
            caption="../report/val_loss.rst",
            category="3. Learning curves",
        ),
        train_validation_gap=report(
            paths.figure("train_validation_gap"),
            caption="../report/train_validation_gap.rst",
            category="3. Learning curves",
        ),
        confusion_matrices=report(
            paths.figure("confusion_matrices"),
            caption="../report/confusion_matrices.rst",
            category="4. Errors per class",
        ),
        timing=report(
            paths.figure("timing"),
            caption="../report/timing.rst",
            category="5. Time and throughput",
        ),
    log:
        paths.log("figures"),
    benchmark:
        paths.benchmark("figures")
    conda:
        "../../envs/ablate.yaml"
    params:
        runs=summarised_runs,
        factors=STUDY.factors,
    script:
        "../scripts/figures.py"
