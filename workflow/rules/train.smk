rule train:
    input:
        train=split_input("train"),
        validation=split_input("validation"),
        manifest="results/{study}/data/manifest.csv",
    output:
        model="results/{study}/cells/{cell}/seed-{seed}/model.keras",
        history="results/{study}/cells/{cell}/seed-{seed}/history.csv",
        params="results/{study}/cells/{cell}/seed-{seed}/params.yaml",
        summary="results/{study}/cells/{cell}/seed-{seed}/train.json",
    log:
        "results/{study}/logs/train/{cell}/seed-{seed}.log",
    benchmark:
        "results/{study}/benchmarks/train/{cell}/seed-{seed}.tsv"
    conda:
        "../../envs/ablate.yaml"
    threads: config["resources"]["cpus"]
    resources:
        gpu=cell_gpus,
        mem_mb=config["resources"]["mem_mb"],
        runtime=train_runtime,
    params:
        settings=cell_settings,
        dataset=dataset_images,
        description=cell_description,
        state="results/{study}/state/{cell}/seed-{seed}",
    script:
        "../scripts/train.py"


rule evaluate:
    input:
        model="results/{study}/cells/{cell}/seed-{seed}/model.keras",
        summary="results/{study}/cells/{cell}/seed-{seed}/train.json",
        test=split_input("test"),
        manifest="results/{study}/data/manifest.csv",
    output:
        metrics="results/{study}/cells/{cell}/seed-{seed}/test/metrics.json",
        per_class="results/{study}/cells/{cell}/seed-{seed}/test/per_class.csv",
        confusion="results/{study}/cells/{cell}/seed-{seed}/test/confusion_matrix.csv",
    log:
        "results/{study}/logs/evaluate/{cell}/seed-{seed}.log",
    benchmark:
        "results/{study}/benchmarks/evaluate/{cell}/seed-{seed}.tsv"
    conda:
        "../../envs/ablate.yaml"
    threads: 1
    params:
        dataset=dataset_images,
        batch_size=cell_batch_size,
    script:
        "../scripts/evaluate.py"
