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
        source=config["dataset"]["source"],
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
        split=split_settings,
    script:
        "../scripts/split.py"
