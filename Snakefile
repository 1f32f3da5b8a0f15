"""Dynamic R-CNN ablation suite: data -> train -> evaluate -> collect -> report.

    snakemake --cores all                                   # the embedded default (synthetic data, CPU)
    snakemake --configfile configs/pipeline/coco_1x.yaml --workflow-profile workflow/profiles/slurm
"""
from snakemake.utils import min_version

min_version("9.0")


configfile: "configs/pipeline/default.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    collect_metrics,


wildcard_constraints:
    family=FAMILY,
    arm="|".join(ARMS),
    variant=VARIANT_PATTERN,
    seed="[0-9]+",


rule all:
    default_target: True
    input:
        final_targets(),
