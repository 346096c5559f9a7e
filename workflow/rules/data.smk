rule download:
    output:
        directory(paths.RAW),
    log:
        paths.log("download"),
    benchmark:
        paths.benchmark("download")
    conda:
        "../../envs/ablate.yaml"
    params:
        source=STUDY.dataset.source,
        options=fetch_options,
        fingerprint=source_fingerprint,
    script:
        "../scripts/download.py"


rule split:
    input:
        paths.RAW,
    output:
        split=directory(paths.SPLIT),
        manifest=paths.MANIFEST,
        quarantine=paths.QUARANTINE,
        inventory=paths.INVENTORY,
        conflicts=paths.CONFLICTING_LABELS,
        near_duplicates=paths.NEAR_DUPLICATES,
    log:
        paths.log("split"),
    benchmark:
        paths.benchmark("split")
    conda:
        "../../envs/ablate.yaml"
    params:
        split=STUDY.dataset.split,
        labels=STUDY.dataset.labels,
    script:
        "../scripts/split.py"


rule decode:
    input:
        split=paths.SPLIT,
        manifest=paths.MANIFEST,
    output:
        images=paths.ARRAY_IMAGES,
        labels=paths.ARRAY_LABELS,
    log:
        paths.log("decode", per="split"),
    benchmark:
        paths.benchmark("decode", per="split")
    conda:
        "../../envs/ablate.yaml"
    threads: 2
    params:
        dataset=DATASET_IMAGES,
    script:
        "../scripts/decode.py"
