rule download:
    output:
        directory("results/{study}/data/raw"),
    log:
        "results/{study}/logs/download.log",
    benchmark:
        "results/{study}/benchmarks/download.tsv"
    conda:
        "../../envs/ablate.yaml"
    params:
        source=STUDY.dataset["source"],
        options=fetch_options,
    script:
        "../scripts/download.py"


rule split:
    input:
        "results/{study}/data/raw",
    output:
        split=directory("results/{study}/data/split"),
        manifest="results/{study}/data/manifest.csv",
        quarantine="results/{study}/data/quarantine.csv",
    log:
        "results/{study}/logs/split.log",
    benchmark:
        "results/{study}/benchmarks/split.tsv"
    conda:
        "../../envs/ablate.yaml"
    params:
        split=STUDY.dataset["split"],
        labels=STUDY.dataset["labels"],
    script:
        "../scripts/split.py"


rule decode:
    input:
        split="results/{study}/data/split",
        manifest="results/{study}/data/manifest.csv",
    output:
        images="results/{study}/data/arrays/{split}-images.npy",
        labels="results/{study}/data/arrays/{split}-labels.npy",
    log:
        "results/{study}/logs/decode/{split}.log",
    benchmark:
        "results/{study}/benchmarks/decode/{split}.tsv"
    conda:
        "../../envs/ablate.yaml"
    threads: 2
    params:
        dataset=dataset_images,
    script:
        "../scripts/decode.py"
