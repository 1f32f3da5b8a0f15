"""Input functions and parameters of the rules: lookups in the plan (dynrcnn.pipeline, built by the Snakefile)."""

import os
import re
import shlex
import sys
from pathlib import Path

from dynrcnn import run_record
from dynrcnn.pipeline.plan import Run

# The interpreter running Snakemake has the project's stack; a bare `python` may be another one. With --sdm conda,
# the rule's environment provides `python`. The rule environments do not install this project, so its packages
# (dynrcnn, analysis) are imported from the repository: PYTHONPATH through `env`, which also works inside the train
# rule's $launch.
DEPLOYMENT = {str(method) for method in workflow.deployment_settings.deployment_method}
PYTHON = "env PYTHONPATH={} {}".format(
    shlex.quote(workflow.basedir), "python" if "conda" in DEPLOYMENT else shlex.quote(sys.executable)
)


def data_input(wildcards=None):
    """What a training or an evaluation needs of the dataset (the synthetic marker, or the checked COCO files)."""
    return PLAN.data_inputs


def train_config(wildcards):
    return PLAN.arm_configs[wildcards.arm]


def train_config_bases(wildcards):
    """What the arm's config inherits from its folder (configs/{family}/_base_.py): a change retrains the run."""
    return PLAN.arm_config_bases[wildcards.arm]


def work_dir(wildcards):
    """Checkpoints and attempt logs: deliberately not a declared output (Snakemake deletes those before a rerun)."""
    return run_record.work_dir(wildcards.family, wildcards.arm, wildcards.variant, wildcards.seed)


def cfg_options(wildcards):
    """The run's mmengine --cfg-options as one shell-quoted string."""
    return PLAN.cfg_options_args(wildcards.variant)


def tracking_args(wildcards, output):
    """The training's tracking arguments (dynrcnn.tracking). Tracking is not part of the experiment: a param function
    of the output counts as derived from the files, which Snakemake leaves out of its params rerun trigger, so
    switching tracking on or off retrains nothing (tests/workflow/test_e2e.py checks it)."""
    return PLAN.tracking_args


def deterministic_flag(wildcards):
    return "--deterministic" if PLAN.config["train"]["deterministic"] else ""


def max_images_flag(wildcards):
    return f"--max-images {PLAN.epoch_max_images}" if PLAN.epoch_max_images else ""


def run_dir_of(path):
    """The run folder of one of its files (the rules derive it from their input or output)."""
    return os.path.dirname(path)


def report_files(root, wrap=False):
    """The report's files below ``root`` by a name per file; ``wrap`` adds the caption and category for
    `snakemake --report` (workflow/report/captions/{stem}.rst, written by python -m analysis.report)."""
    files = {}
    for rel in PLAN.report_outputs:
        path = f"{root}/{rel}"
        if wrap:
            caption = f"../report/captions/{Path(rel).stem}.rst"
            path = report(path, caption=caption, category=PLAN.report_categories[rel], labels={"file": rel})
        files[re.sub(r"\W", "_", rel)] = path
    return files


def epoch_detection_flags(wildcards, input):
    """The report's --epoch-detections (the runs' folders), when the config makes them."""
    return f"--epoch-detections {' '.join(input.epoch_detections)}" if input.epoch_detections else ""


def endpoint_source(wildcards):
    """The full run's scalars.json that a static control's endpoint is read from (same seed)."""
    return PLAN.endpoint_source(wildcards.seed)


def endpoint_source_run(wildcards):
    return run_record.run_name(run_record.STATIC_SOURCE_ARM, run_record.DEFAULT_VARIANT, wildcards.seed)


def control_inputs(wildcards):
    """A static control's training needs its endpoint file; other runs nothing more."""
    return PLAN.control_inputs(wildcards.variant, wildcards.seed)


def control_flags(wildcards):
    """A static control's --cfg-options-file (its endpoint file), else nothing."""
    return PLAN.control_args(wildcards.variant, wildcards.seed)


def retrain_input(wildcards):
    """A finished run whose training request changed: its retrain marker (dynrcnn.pipeline.retrain), else nothing."""
    path = RETRAIN.requests.get(Run(wildcards.arm, wildcards.variant, int(wildcards.seed)))
    return [path] if path else []
