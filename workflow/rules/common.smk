"""Input functions and parameters of the rules: lookups in the plan (dynrcnn.pipeline, built by the Snakefile)."""

import re
import shlex
import sys
from pathlib import Path

from dynrcnn import run_record
from dynrcnn.pipeline.plan import Run
from dynrcnn.tools import commands

# The interpreter running Snakemake has the project's stack; a bare `python` may be another one. With --sdm conda,
# the rule's environment provides `python`. The rule environments do not install this project, so its packages
# (dynrcnn, analysis) are imported from the repository: PYTHONPATH through `env`, which also reaches the processes
# torchrun starts.
DEPLOYMENT = {str(method) for method in workflow.deployment_settings.deployment_method}
PYTHON_ARGS = [
    "env",
    f"PYTHONPATH={workflow.basedir}",
    "python" if "conda" in DEPLOYMENT else sys.executable,
]
PYTHON = shlex.join(PYTHON_ARGS)


def data_input(wildcards=None):
    """What a training or an evaluation needs of the dataset (the synthetic marker, or the checked COCO files)."""
    return PLAN.data_inputs


def train_config(wildcards):
    return PLAN.arm_configs[wildcards.arm]


def train_config_bases(wildcards):
    """What the arm's config inherits from its folder (configs/{family}/_base_.py): a change retrains the run."""
    return PLAN.arm_config_bases[wildcards.arm]


def cfg_options(wildcards):
    """The run's mmengine --cfg-options as one shell-quoted string."""
    return PLAN.cfg_options_args(wildcards.variant)


def deterministic_flag(wildcards):
    return "--deterministic" if PLAN.config["train"]["deterministic"] else ""


def run_of(wildcards):
    return Run(wildcards.arm, wildcards.variant, int(wildcards.seed))


def train_shell(wildcards, threads, resources):
    """The train job's command (the plan's, dynrcnn.tools.commands): torchrun for N > 1 GPUs or CPU processes
    (processes_per_job; a SLURM job is one srun task; without CUDA the processes train on CPU with gloo), the job's
    threads shared out among them; gpu_slots gives the job its GPUs on a local node (CUDA_VISIBLE_DEVICES; left
    alone when set, as under SLURM, and hidden with gpus_per_job 0) and execs the launch, so the job's process is
    the training itself (signals, kill and resume). A function of the threads: not part of the params rerun
    trigger (the train rule's other params are)."""
    train = PLAN.train_command(run_of(wildcards), threads, PYTHON_ARGS)
    job = commands.job_command(train, gpus=resources.gpu, threads=PLAN.threads_per_process(threads), python=PYTHON_ARGS)
    return commands.shell(job)


def evaluate_shell(wildcards, output, threads, resources):
    """The evaluate job's command (the plan's, dynrcnn.tools.commands), with its own GPU (gpu_slots)."""
    evaluate = PLAN.evaluate_command(run_of(wildcards), output.metrics, threads, PYTHON_ARGS)
    return commands.shell(commands.job_command(evaluate, gpus=resources.gpu, threads=threads, python=PYTHON_ARGS))


def detect_epochs_shell(wildcards, output, threads, resources):
    """The epoch_detections job's command (the plan's, dynrcnn.tools.commands), with its own GPU (gpu_slots)."""
    detect = PLAN.detect_epochs_command(run_of(wildcards), output.epochs, threads, PYTHON_ARGS)
    return commands.shell(commands.job_command(detect, gpus=resources.gpu, threads=threads, python=PYTHON_ARGS))


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


def benchmark_flags(wildcards, input):
    """The report's --benchmarks (the compute table's files), when there are any."""
    return f"--benchmarks {' '.join(input.benchmarks)}" if input.benchmarks else ""


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
