"""Helpers of the pipeline: config validation, the list of runs, and per-rule parameters.

Everything that can be wrong in the pipeline config raises one WorkflowError here, while the DAG is built and
before any job starts.
"""
import functools
import itertools
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


validate(config, "../schemas/config.schema.yaml")

ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
HYPERPARAMETERS = ("iou_topk", "beta_topk", "update_iter_interval")
DYNAMIC_RCNN_KEY = "model.train_cfg.rcnn.dynamic_rcnn"
VARIANT_PATTERN = r"default|ki[0-9]+-kb[0-9]+-c[0-9]+"
VARIANT_RE = re.compile(r"ki(?P<iou_topk>[0-9]+)-kb(?P<beta_topk>[0-9]+)-c(?P<update_iter_interval>[0-9]+)")
COCO_FILES = ("annotations/instances_train2017.json", "annotations/instances_val2017.json", "train2017", "val2017")
SYNTHETIC_VAL = ("annotations/instances_val.json", "val")

FAMILY = config["family"]
DATASET = config["dataset"]["name"]
# The code and the MMDetection configs live next to the Snakefile; the results go to the working directory.
REPO = Path(workflow.basedir)
# The interpreter running Snakemake has the project's stack; a bare `python` may be another one. With
# --sdm conda, the rule's environment provides `python`.
DEPLOYMENT = {str(method) for method in workflow.deployment_settings.deployment_method}
PYTHON = "python" if "conda" in DEPLOYMENT else sys.executable


def pipeline_error(message):
    """The one error a bad pipeline config produces (raised while the DAG is built)."""
    return WorkflowError(f"Invalid pipeline config: {message}")


def _data_root():
    root = config["dataset"]["root"]
    if DATASET == "synthetic":
        return root or "results/data/synthetic"
    if not root:
        raise pipeline_error("dataset.name is 'coco' but dataset.root is not set; set it to the COCO 2017 root "
                             "(the folder holding annotations/, train2017/ and val2017/)")
    missing = [name for name in COCO_FILES if not os.path.exists(os.path.join(root, name))]
    if missing:
        raise pipeline_error(f"dataset.root {root!r} is not a COCO 2017 root: missing {', '.join(missing)}. "
                             "Set dataset.root to the folder holding annotations/, train2017/ and val2017/ "
                             "(e.g. in a second --configfile)")
    return root


DATA_ROOT = _data_root().rstrip("/")


def family_config(arm):
    """The MMDetection config of an arm of the configured family (checked to exist)."""
    path = REPO / "configs" / FAMILY / f"{arm}.py"
    if not path.is_file():
        raise pipeline_error(f"no MMDetection config for family {FAMILY!r} and arm {arm!r}: {path} is missing")
    return str(path)


@functools.lru_cache(maxsize=None)
def family_defaults(arm):
    """The hyper-parameters of an arm's config (model.train_cfg.rcnn.dynamic_rcnn), as ints."""
    from mmengine.config import Config

    cfg = Config.fromfile(family_config(arm), import_custom_modules=False)
    block = cfg.model.get("train_cfg", {}).get("rcnn", {}).get("dynamic_rcnn")
    if not block or any(block.get(k) is None for k in HYPERPARAMETERS):
        raise pipeline_error(f"{family_config(arm)} has no {DYNAMIC_RCNN_KEY} with {', '.join(HYPERPARAMETERS)}: "
                             "cannot name the sweep variants")
    return {k: int(block[k]) for k in HYPERPARAMETERS}


def variant_name(hparams, defaults):
    """'default' for the family's own hyper-parameters, else ki{iou_topk}-kb{beta_topk}-c{interval}."""
    if hparams == defaults:
        return "default"
    return "ki{iou_topk}-kb{beta_topk}-c{update_iter_interval}".format(**hparams)


def sweep_points(defaults):
    """The hyper-parameter combinations of config['sweeps'] (see the schema for the two modes)."""
    sweeps = config["sweeps"]
    if sweeps["mode"] == "grid":
        lists = [sweeps[k] or [defaults[k]] for k in HYPERPARAMETERS]
        return [dict(zip(HYPERPARAMETERS, combo)) for combo in itertools.product(*lists)]
    return [{**defaults, key: value} for key in HYPERPARAMETERS for value in sweeps[key]]


def _runs():
    runs = [(arm, "default", seed) for arm in config["arms"] for seed in config["seeds"]]
    for arm in config["arms"]:
        family_config(arm)
    if any(config["sweeps"][k] for k in HYPERPARAMETERS):
        for arm in config["sweeps"]["arms"]:
            defaults = family_defaults(arm)
            for hparams in sweep_points(defaults):
                for seed in config["seeds"]:
                    run = (arm, variant_name(hparams, defaults), seed)
                    if run not in runs:
                        runs.append(run)
    return runs


#: (arm, variant, seed) of every run of the pipeline.
RUNS = _runs()


def run_dirs():
    return [f"results/runs/{FAMILY}/{arm}/{variant}/seed{seed}" for arm, variant, seed in RUNS]


def all_metrics():
    return [f"{d}/metrics.json" for d in run_dirs()]


def all_scalars():
    return [f"{d}/scalars.json" for d in run_dirs()]


def data_input(wildcards=None):
    """What a training needs of the dataset: the synthetic completion marker or the COCO annotation files."""
    if DATASET == "synthetic":
        return f"{DATA_ROOT}/.complete"
    return [f"{DATA_ROOT}/{COCO_FILES[0]}", f"{DATA_ROOT}/{COCO_FILES[1]}"]


def val_annotations():
    if DATASET == "synthetic":
        return f"{DATA_ROOT}/{SYNTHETIC_VAL[0]}"
    return f"{DATA_ROOT}/{COCO_FILES[1]}"


def val_images():
    return f"{DATA_ROOT}/{SYNTHETIC_VAL[1] if DATASET == 'synthetic' else COCO_FILES[3]}"


def train_config(wildcards):
    return family_config(wildcards.arm)


def work_dir(wildcards):
    """Checkpoints and attempt logs: deliberately not a declared output (Snakemake deletes those before a rerun)."""
    return f"results/work/{wildcards.family}/{wildcards.arm}/{wildcards.variant}/seed{wildcards.seed}"


def cfg_options(wildcards):
    """The run's mmengine --cfg-options as one shell-quoted string."""
    options = []
    match = VARIANT_RE.fullmatch(wildcards.variant)
    if match:
        options += [f"{DYNAMIC_RCNN_KEY}.{k}={int(v)}" for k, v in match.groupdict().items()]
    if config["train"]["max_epochs"]:
        options.append(f"train_cfg.max_epochs={config['train']['max_epochs']}")
    if config["images_per_gpu"]:
        options.append(f"train_dataloader.batch_size={config['images_per_gpu']}")
    options += config["train"]["cfg_options"]
    return " ".join(["--cfg-options"] + [shlex.quote(o) for o in options]) if options else ""


def epoch_detection_flags(wildcards):
    settings = config["evaluate"]
    if not settings["epoch_detections"]:
        return ""
    limit = settings["epoch_max_images"]
    return "--epoch-detections" + (f" --epoch-max-images {limit}" if limit else "")


def deterministic_flag(wildcards):
    return "--deterministic" if config["train"]["deterministic"] else ""


def train_resources():
    resources = dict(gpu=config["gpus_per_job"], mem_mb=config["resources"]["train_mem_mb"],
                     runtime=config["resources"]["train_runtime"])
    if config["gpus_per_job"] and config["resources"]["gpu_model"]:
        resources["gpu_model"] = config["resources"]["gpu_model"]
    return resources


def eval_resources():
    resources = dict(gpu=min(1, config["gpus_per_job"]), mem_mb=config["resources"]["eval_mem_mb"],
                     runtime=config["resources"]["eval_runtime"])
    if config["gpus_per_job"] and config["resources"]["gpu_model"]:
        resources["gpu_model"] = config["resources"]["gpu_model"]
    return resources


def _report_module():
    """analysis.outputs, whose OUTPUTS and CATEGORIES name the report's files: standard library only, so a lean
    Snakemake install builds the DAG (the project's packages are imported from the repository even when they are
    not installed)."""
    sys.path.insert(0, str(REPO))
    try:
        import analysis.outputs as module
    finally:
        sys.path.remove(str(REPO))
    return module


REPORT_MODULE = _report_module()
REPORT_OUTPUTS = dict(REPORT_MODULE.OUTPUTS)
# Captions of the report's outputs ({stem}.rst, written by the report rule), read by `snakemake --report`.
CAPTIONS_DIR = f"results/report_captions/{FAMILY}"


def report_files():
    """The report's outputs, each wrapped with its caption and category for `snakemake --report`."""
    categories = getattr(REPORT_MODULE, "CATEGORIES", {})
    files = {}
    for rel in REPORT_OUTPUTS:
        stem = Path(rel).stem
        files[re.sub(r"[^A-Za-z0-9_]", "_", rel)] = report(
            f"reports/{FAMILY}/{rel}",
            caption=os.path.abspath(f"{CAPTIONS_DIR}/{stem}.rst"),
            category=categories.get(rel, "Report"),
            labels={"file": rel},
        )
    return files


def final_targets():
    targets = all_metrics() + [f"results/collected/{FAMILY}/metrics.csv", f"results/collected/{FAMILY}/metrics.md"]
    if config["report"]["enabled"]:
        targets += [f"reports/{FAMILY}/{rel}" for rel in REPORT_OUTPUTS]
    return targets
