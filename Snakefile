# ablate: one image-classification ablation study, from one config file.
#   snakemake --cores 4 --resources gpu=1
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/results.smk"


rule all:
    default_target: True
    input:
        final_targets(),
