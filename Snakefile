"""Dynamic R-CNN ablation suite: data -> train -> evaluate -> report.

    snakemake --cores all                                   # the embedded default (synthetic data, CPU)
    snakemake --configfile configs/pipeline/coco_1x.yaml --workflow-profile workflow/profiles/slurm

The config is validated and expanded into its runs by dynrcnn.pipeline (torch-free), once, here.
"""

import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")


# The embedded default is read only when no --configfile is given: the files named there are the whole config, every
# key they leave out takes the schema's default (workflow/schemas/config.schema.yaml).
if not workflow.overwrite_configfiles:

    configfile: "configs/pipeline/default.yaml"


report: "workflow/report/workflow.rst"


# The project's packages are imported from the repository (next to the Snakefile): neither a lean Snakemake install
# nor the rule environments need the project installed. The plan is computed whole here, so the path is restored.
sys.path.insert(0, workflow.basedir)
try:
    from dynrcnn.pipeline import PipelineConfigError, build, retrain
    from dynrcnn.pipeline.locks import clear_stale_lock
    from dynrcnn.run_record import ARMS, VARIANT_PATTERN
    from dynrcnn.tools import orphan_guard

    if workflow.is_main_process:  # not in a job's own Snakemake (SLURM, --sdm ...), which inherits the variable
        # a lock left by a killed Snakemake is cleared when no other one runs here (dynrcnn.pipeline.locks), and
        # the jobs end if this process does (dynrcnn.tools.orphan_guard)
        lock_notice = clear_stale_lock(os.getcwd())
        if lock_notice:
            print(lock_notice, file=sys.stderr)
        orphan_guard.export()
    PLAN = build(config, repo=workflow.basedir)
    # which finished runs are retrained and why (dynrcnn.pipeline.retrain; the profiles' rerun-triggers: mtime)
    RETRAIN = retrain.Decision() if PLAN.from_runs else retrain.decide(PLAN)
except PipelineConfigError as e:
    raise WorkflowError(f"Invalid pipeline config: {e}") from None
finally:
    sys.path.remove(workflow.basedir)
if workflow.is_main_process:
    for notice in PLAN.notices + RETRAIN.lines:
        print(notice, file=sys.stderr)
    retrain.write_markers(RETRAIN)


include: "workflow/rules/common.smk"


# report.from_runs (`make report`): the report from the run folders that exist, and no rule that makes them
if not PLAN.from_runs:

    include: "workflow/rules/data.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/evaluate.smk"
    include: "workflow/rules/controls.smk"


include: "workflow/rules/report.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/check.smk"


localrules:
    all,
    publish_report,


wildcard_constraints:
    family=PLAN.family,
    arm="|".join(ARMS),
    variant=VARIANT_PATTERN,
    seed="[0-9]+",


rule all:
    default_target: True
    input:
        PLAN.final_targets,
