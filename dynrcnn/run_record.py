"""The run record: the names, folder layout and file formats of one run of the suite (standard library only).

A run is one training of one arm of a config family with one variant of the hyper-parameters and one seed. Its
results folder ``results/runs/{family}/{arm}/{variant}/seed{seed}/`` holds:

==============================================  ========================================================  ============
file                                            what it holds                                             written by
==============================================  ========================================================  ============
``train_manifest.json``                         how the training ran (paths relative to the run folder)  training
``config.py``                                   the resolved MMDetection config                           training
``scalars.json``                                the training's scalar log (JSON lines)                    training
``detections/final.bbox.json``                  the final checkpoint's detections on the val split        evaluation
``metrics.json``                                COCOeval metrics, the run's identity and provenance       evaluation
``epoch_detections/epoch_{N}.bbox.json``        each kept checkpoint's detections on the sample images    epoch
                                                                                                          detections
==============================================  ========================================================  ============

Checkpoints and mmengine's logs live in the run's work dir, ``results/work/{family}/{arm}/{variant}/seed{seed}/``,
which is not a Snakemake output (a killed training resumes from it).

Every other module names these files, the arms, the hyper-parameters, the variants and the metric keys through
this module, and reads and writes ``metrics.json`` and ``train_manifest.json`` through it. It imports only the
standard library, so the workflow can use it while it builds the DAG.
"""

import json
import math
import os
import re

from .fileio import atomic_write_json, atomic_write_text

#: The four arms of the ablation, in the paper's order.
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
#: Dynamic R-CNN's hyper-parameters (K_I, K_beta, C), as MMDetection names them.
HYPERPARAMETERS = ("iou_topk", "beta_topk", "update_iter_interval")
#: Where the hyper-parameters and the switches live in an MMDetection config.
DYNAMIC_RCNN_KEY = "model.train_cfg.rcnn.dynamic_rcnn"

#: The variant trained with the family config's own hyper-parameters.
DEFAULT_VARIANT = "default"
#: Wildcard pattern of a variant name.
VARIANT_PATTERN = r"default|ki[0-9]+-kb[0-9]+-c[0-9]+"
_VARIANT_RE = re.compile(r"ki(?P<iou_topk>[0-9]+)-kb(?P<beta_topk>[0-9]+)-c(?P<update_iter_interval>[0-9]+)")

#: COCOeval's summary metrics, in the order of ``COCOeval.stats[0:6]`` (area ranges at maxDets 100).
SUMMARY_METRICS = ("AP", "AP50", "AP75", "APS", "APM", "APL")
#: Keys of ``metrics.AP_at_iou``: the ten IoU thresholds 0.50 ... 0.95 spelled "%.2f".
IOU_KEYS = tuple(f"{0.5 + 0.05 * i:.2f}" for i in range(10))

#: Where annotations and images of each split live below the dataset root, per dataset.
DATASET_LAYOUTS = {
    "synthetic": dict(
        train=("annotations/instances_train.json", "train/"), val=("annotations/instances_val.json", "val/")
    ),
    "coco": dict(
        train=("annotations/instances_train2017.json", "train2017/"),
        val=("annotations/instances_val2017.json", "val2017/"),
    ),
}
DATASETS = tuple(DATASET_LAYOUTS)

#: Files of a run folder (see the module docstring).
MANIFEST_FILE = "train_manifest.json"
CONFIG_FILE = "config.py"
SCALARS_FILE = "scalars.json"
METRICS_FILE = "metrics.json"
FINAL_DETECTIONS_FILE = "detections/final.bbox.json"
EPOCH_DETECTIONS_DIR = "epoch_detections"
_EPOCH_DETECTION_RE = re.compile(r"epoch_([0-9]+)\.bbox\.json")

RUNS_ROOT = "results/runs"
WORK_ROOT = "results/work"

#: Keys every train_manifest.json holds.
MANIFEST_KEYS = (
    "config",
    "config_sha256",
    "checkpoint",
    "epoch_checkpoints",
    "work_dir",
    "seed",
    "dataset",
    "data_root",
    "cfg_options",
    "device",
    "gpus",
    "world_size",
    "images_per_gpu",
    "lr",
    "base_lr",
    "max_epochs",
    "threads",
    "wall_time_s",
    "cpu_model",
    "cpu_capability",
)
#: Manifest keys holding paths, stored relative to the run folder (a copied results tree reads its own files).
_MANIFEST_PATHS = ("checkpoint", "work_dir")


class RunRecordError(ValueError):
    """A run's file is missing or malformed; the message names the file and the fix."""


def run_name(arm, variant, seed):
    """``{arm}/{variant}/seed{seed}``: how messages and tables name a run."""
    return f"{arm}/{variant}/seed{seed}"


def run_dir(family, arm, variant, seed, root=RUNS_ROOT):
    """The run's results folder."""
    return f"{root}/{family}/{run_name(arm, variant, seed)}"


def work_dir(family, arm, variant, seed, root=WORK_ROOT):
    """The run's training work dir (checkpoints and logs; not a Snakemake output)."""
    return f"{root}/{family}/{run_name(arm, variant, seed)}"


def variant_name(hparams, defaults):
    """``default`` for the family's own hyper-parameters, else ``ki{iou_topk}-kb{beta_topk}-c{interval}``.

    Args:
        hparams (dict): values of :data:`HYPERPARAMETERS`.
        defaults (dict): the family config's values.

    Returns:
        str
    """
    if {k: int(hparams[k]) for k in HYPERPARAMETERS} == {k: int(defaults[k]) for k in HYPERPARAMETERS}:
        return DEFAULT_VARIANT
    return "ki{iou_topk}-kb{beta_topk}-c{update_iter_interval}".format(**{k: int(hparams[k]) for k in HYPERPARAMETERS})


def parse_variant(variant):
    """The hyper-parameters a variant name fixes: a dict for ``ki..-kb..-c..``, None for ``default``.

    Raises:
        ValueError: for a name that is neither.
    """
    if variant == DEFAULT_VARIANT:
        return None
    match = _VARIANT_RE.fullmatch(variant)
    if not match:
        raise ValueError(f"variant {variant!r} is neither {DEFAULT_VARIANT!r} nor ki{{K_I}}-kb{{K_beta}}-c{{C}}")
    return {k: int(v) for k, v in match.groupdict().items()}


def epoch_detections_name(epoch):
    """File name of an epoch's detections in :data:`EPOCH_DETECTIONS_DIR`."""
    return f"epoch_{int(epoch)}.bbox.json"


def epoch_detection_files(folder):
    """``{epoch: path}`` of the ``epoch_{N}.bbox.json`` files in ``folder``, sorted by epoch (empty if none)."""
    found = {}
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            match = _EPOCH_DETECTION_RE.fullmatch(name)
            if match:
                found[int(match.group(1))] = os.path.join(folder, name)
    return dict(sorted(found.items()))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fraction(value):
    return _number(value) and (value == -1 or 0 <= value <= 1)


def _load_json(path, fix):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise RunRecordError(f"{path}: missing. {fix}") from None
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise RunRecordError(f"{path}: not a readable JSON file ({type(e).__name__}: {e}). {fix}") from None


# ---------------------------------------------------------------------------------------------------- metrics.json
METRICS_FIX = "Delete it so that the pipeline evaluates that run again"


def metrics_problem(record):
    """What is wrong with a metrics record (None when it is complete and well-formed).

    A record is ``{"run": {family, arm, variant, seed, dataset, hyperparameters}, "metrics": {AP, AP50, AP75, APS,
    APM, APL, AP_at_iou: {"0.50": ..., ..., "0.95": ...}}, "provenance": {...}}``; metrics are COCOeval fractions
    in [0, 1], or -1 where COCOeval leaves them undefined.
    """
    if not isinstance(record, dict):
        return f"expected a JSON object, not a {type(record).__name__}"
    for block in ("run", "metrics", "provenance"):
        if not isinstance(record.get(block), dict):
            return f'no "{block}" object'
    run, metrics = record["run"], record["metrics"]
    for key in ("family", "arm", "variant", "dataset"):
        if not isinstance(run.get(key), str):
            return f"run.{key} is {run.get(key)!r}, expected a string"
    if run["arm"] not in ARMS:
        return f"run.arm is {run['arm']!r}, expected one of {', '.join(ARMS)}"
    if run["dataset"] not in DATASETS:
        return f"run.dataset is {run['dataset']!r}, expected one of {', '.join(DATASETS)}"
    if not isinstance(run.get("seed"), int) or isinstance(run.get("seed"), bool):
        return f"run.seed is {run.get('seed')!r}, expected an integer"
    hyper = run.get("hyperparameters")
    if not isinstance(hyper, dict) or not all(_number(hyper.get(k)) for k in HYPERPARAMETERS):
        return f"run.hyperparameters must hold numbers {', '.join(HYPERPARAMETERS)}"
    try:
        fixed = parse_variant(run["variant"])
    except ValueError as e:
        return f"run.{e}"
    if fixed and fixed != {k: hyper[k] for k in HYPERPARAMETERS}:
        return f"run.hyperparameters {hyper} do not match the variant {run['variant']!r}"
    for key in SUMMARY_METRICS:
        if not _fraction(metrics.get(key)):
            return f"metrics.{key} is {metrics.get(key)!r}, expected a fraction in [0, 1] or -1 (undefined)"
    per_iou = metrics.get("AP_at_iou")
    if not isinstance(per_iou, dict) or set(IOU_KEYS) - set(per_iou):
        return f"metrics.AP_at_iou must hold the keys {', '.join(IOU_KEYS)}"
    for key in IOU_KEYS:
        if not _fraction(per_iou[key]):
            return f'metrics.AP_at_iou["{key}"] is {per_iou[key]!r}, expected a fraction in [0, 1] or -1'
    return None


def write_metrics(path, record):
    """Check a metrics record and write it atomically.

    Raises:
        RunRecordError: the record is incomplete (nothing is written).
    """
    problem = metrics_problem(record)
    if problem:
        raise RunRecordError(f"{path}: refusing to write an incomplete metrics record: {problem}")
    atomic_write_json(path, record)


def read_metrics(path, expect=None):
    """Read and check a run's ``metrics.json``.

    Args:
        path (str | Path): the file.
        expect (dict, optional): values the ``run`` block must have (e.g. ``arm``, ``variant``, ``seed`` from the
            run's folder, ``family`` and ``dataset`` of the report).

    Returns:
        dict: the record.

    Raises:
        RunRecordError: naming the file, what is wrong and the fix.
    """
    record = _load_json(path, METRICS_FIX)
    problem = metrics_problem(record)
    if problem:
        raise RunRecordError(f"{path}: incomplete metrics record ({problem}). {METRICS_FIX}")
    for key, value in (expect or {}).items():
        if record["run"].get(key) != value:
            raise RunRecordError(
                f"{path}: run.{key} is {record['run'].get(key)!r} but {value!r} was expected (the file belongs "
                f"to another run or configuration). {METRICS_FIX}"
            )
    return record


# --------------------------------------------------------------------------------------------- train_manifest.json
MANIFEST_FIX = (
    "Delete the run's train_manifest.json so that the pipeline trains it again (it resumes from its work dir)"
)


def write_manifest(folder, manifest):
    """Write a run's ``train_manifest.json`` atomically, its paths made relative to the run folder ``folder``.

    Args:
        folder (str): the run folder.
        manifest (dict): :data:`MANIFEST_KEYS`; ``checkpoint``, ``work_dir`` and the values of
            ``epoch_checkpoints`` ({epoch: path}) may be absolute or relative to the working directory.
    """
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise RunRecordError(f"{folder}: refusing to write a manifest without {', '.join(missing)}")
    stored = dict(manifest)
    for key in _MANIFEST_PATHS:
        stored[key] = os.path.relpath(os.path.abspath(manifest[key]), os.path.abspath(folder))
    stored["epoch_checkpoints"] = {
        str(int(e)): os.path.relpath(os.path.abspath(p), os.path.abspath(folder))
        for e, p in sorted(manifest["epoch_checkpoints"].items(), key=lambda item: int(item[0]))
    }
    atomic_write_json(os.path.join(folder, MANIFEST_FILE), stored)


def read_manifest(folder):
    """Read a run's ``train_manifest.json``, its paths resolved against the run folder ``folder``.

    Returns:
        dict: the manifest; ``checkpoint`` and ``work_dir`` are paths usable from the working directory and
        ``epoch_checkpoints`` is ``{epoch (int): path}``.

    Raises:
        RunRecordError: missing or malformed (the message names the file and the fix).
    """
    path = os.path.join(folder, MANIFEST_FILE)
    manifest = _load_json(path, "Train the run (its training has not finished)")
    missing = [k for k in MANIFEST_KEYS if k not in manifest] if isinstance(manifest, dict) else list(MANIFEST_KEYS)
    if missing:
        raise RunRecordError(f"{path}: not a complete training manifest (no {', '.join(missing)}). {MANIFEST_FIX}")
    for key in _MANIFEST_PATHS:
        if os.path.isabs(manifest[key]):
            raise RunRecordError(f"{path}: {key} is an absolute path (written by an older version). {MANIFEST_FIX}")
        manifest[key] = os.path.normpath(os.path.join(folder, manifest[key]))
    manifest["epoch_checkpoints"] = {
        int(e): os.path.normpath(os.path.join(folder, p)) for e, p in manifest["epoch_checkpoints"].items()
    }
    return manifest


# ---------------------------------------------------------------------------------------------------- scalars.json
SCALARS_FIX = "Delete the run's train_manifest.json so that the pipeline finishes its training again"


def is_train_line(line):
    """Whether a scalars line is a training iteration's (it has the learning rate or a loss); validation lines
    (``step`` = epoch) hold ``coco/...`` metrics only."""
    return "lr" in line or any(k.startswith("loss") for k in line)


def write_scalars(path, lines):
    """Write scalar lines (dicts) as JSON lines, atomically."""
    atomic_write_text(path, "".join(json.dumps(line) + "\n" for line in lines))


def read_scalars(path):
    """Read a run's ``scalars.json`` (JSON lines, each with a numeric ``step``).

    Returns:
        tuple[list[dict], list[dict]]: training lines and validation lines, in file order.

    Raises:
        RunRecordError: missing, a malformed line, or no training line.
    """
    train, val = [], []
    try:
        with open(path, encoding="utf-8") as f:
            for number, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                try:
                    line = json.loads(text)
                except ValueError as e:
                    raise RunRecordError(f"{path}: line {number} is not valid JSON ({e}). {SCALARS_FIX}") from None
                if not isinstance(line, dict) or not _number(line.get("step")):
                    raise RunRecordError(f'{path}: line {number} has no numeric "step". {SCALARS_FIX}')
                (train if is_train_line(line) else val).append(line)
    except FileNotFoundError:
        raise RunRecordError(f"{path}: missing. {SCALARS_FIX}") from None
    if not train:
        raise RunRecordError(f"{path}: no training iterations logged. {SCALARS_FIX}")
    return train, val
