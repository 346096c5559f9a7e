# ablate: one image-classification ablation study, from one config file.
#   snakemake --cores 4 --resources gpu=1                  a workstation
#   snakemake --workflow-profile profiles/slurm            a SLURM cluster
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


# `gpu` is counted per machine (per submitted job on a cluster), not across the whole
# cluster: `--resources gpu=1` would otherwise let one train job run at a time anywhere.
resource_scopes:
    gpu="local",


# Cheap steps run where snakemake runs: no queueing, and the download may need the
# internet, which compute nodes often lack.
localrules:
    all,
    download,
    aggregate,
    decide,
    describe,
    figures,
    mlflow,
    tables,


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/adaptive.smk"
include: "workflow/rules/results.smk"
include: "workflow/rules/tracking.smk"


rule all:
    default_target: True
    input:
        final_targets(),


# With --keep-going, jobs that failed (a crash, a kill) hold the tables back: summarise the
# runs that finished anyway. (A run whose loss diverged is recorded, not failed.)
onerror:
    if workflow.execution_settings.keep_going and not STUDY.partial:
        aggregate_finished_runs()
