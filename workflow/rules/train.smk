rule train:
    input:
        train=split_input("train"),
        validation=split_input("validation"),
        manifest=paths.MANIFEST,
        model_file=own_model_file,
    output:
        model=paths.MODEL,
        history=paths.HISTORY,
        params=paths.PARAMS,
        summary=paths.TRAIN_SUMMARY,
    log:
        paths.log("train", per="run"),
    benchmark:
        paths.benchmark("train", per="run")
    conda:
        "../../envs/ablate.yaml"
    threads: STUDY.resources.cpus
    resources:
        gpu=per_cell("gpus"),
        mem_mb=STUDY.resources.mem_mb,
        runtime=train_runtime,
        runs_per_gpu=STUDY.resources.runs_per_gpu,
        gpu_memory_mb=STUDY.resources.gpu_memory_mb,
    params:
        settings=cell_settings,
        dataset=DATASET_IMAGES,
        description=cell_description,
        state=paths.STATE,
    script:
        "../scripts/train.py"


rule evaluate:
    input:
        model=paths.MODEL,
        summary=paths.TRAIN_SUMMARY,
        test=split_input("test"),
        manifest=paths.MANIFEST,
    output:
        metrics=paths.TEST_METRICS,
        per_class=paths.PER_CLASS,
        confusion=paths.CONFUSION,
        predictions=paths.PREDICTIONS,
    log:
        paths.log("evaluate", per="run"),
    benchmark:
        paths.benchmark("evaluate", per="run")
    conda:
        "../../envs/ablate.yaml"
    threads: 1
    params:
        dataset=DATASET_IMAGES,
        batch_size=per_cell("batch_size"),
    script:
        "../scripts/evaluate.py"
