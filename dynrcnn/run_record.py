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

from .controls import (  # noqa: F401  (a control's naming and values, re-exported: run_record names every run)
    ASSIGNER_KEY,
    ASSIGNER_THRESHOLDS,
    CONTROL_ARM,
    CONTROL_KINDS,
    CONTROL_NAMES,
    L1,
    L1_VARIANT,
    LOSS_BBOX_KEY,
    SMOOTH_L1,
    STATIC_SOURCE_ARM,
    STATIC_VARIANT,
    control_cfg_options,
    control_problem,
    control_variant,
    format_value,
    parse_control,
)
from .dynamic_settings import DYNAMIC_RCNN_KEY  # noqa: F401  (where the hyper-parameters live in a config)
from .fileio import atomic_write_json, atomic_write_text

#: The four arms of the ablation, in the paper's order.
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
#: Dynamic R-CNN's hyper-parameters (K_I, K_beta, C), as MMDetection names them.
HYPERPARAMETERS = ("iou_topk", "beta_topk", "update_iter_interval")

#: The variant trained with the family config's own hyper-parameters.
DEFAULT_VARIANT = "default"
#: Wildcard pattern of a variant name: the default, a sweep point, or a control (see :func:`control_variant`).
VARIANT_PATTERN = r"default|ki[0-9]+-kb[0-9]+-c[0-9]+|beta[0-9]+\.[0-9]+|l1|iou0\.[0-9]+|static|check"
#: The variant of the acceptance check's short trainings (the config's ``check`` block).
CHECK_VARIANT = "check"
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


def layout_files(dataset):
    """The annotation files and image folders below a dataset root of the ``dataset`` layout: train and val
    annotations, train and val images (folders without their trailing slash)."""
    layout = DATASET_LAYOUTS[dataset]
    return [layout["train"][0], layout["val"][0], layout["train"][1].rstrip("/"), layout["val"][1].rstrip("/")]


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


def lowest_seed_runs(runs):
    """The run of the lowest seed of each arm and variant: the one seed the report's sample figures draw, and so the
    only one whose per-epoch detections the pipeline makes.

    Args:
        runs (Iterable): objects with ``arm``, ``variant`` and ``seed`` attributes.

    Returns:
        list: those runs, in the order given.
    """
    runs = list(runs)
    lowest = {}
    for run in runs:
        key = (run.arm, run.variant)
        if key not in lowest or run.seed < lowest[key].seed:
            lowest[key] = run
    kept = {id(run) for run in lowest.values()}
    return [run for run in runs if id(run) in kept]


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
    """The hyper-parameters a variant name fixes: a dict for ``ki..-kb..-c..``, None for ``default`` and for a
    control (which fixes no Dynamic R-CNN hyper-parameter; :func:`parse_control` says what it fixes).

    Raises:
        ValueError: for a name that is neither.
    """
    if variant in (DEFAULT_VARIANT, CHECK_VARIANT) or parse_control(variant) is not None:
        return None
    match = _VARIANT_RE.fullmatch(variant)
    if not match:
        raise ValueError(
            f"variant {variant!r} is neither {DEFAULT_VARIANT!r}, ki{{K_I}}-kb{{K_beta}}-c{{C}} nor a control "
            f"({CONTROL_NAMES})"
        )
    return {k: int(v) for k, v in match.groupdict().items()}


# ------------------------------------------------------------------------------------------------------- controls
# A control's naming and values: dynrcnn.controls (re-exported here); its records (metrics.json's run.control, the
# static endpoint's file) below.
#: The scalars (scalars.json) of a Dynamic R-CNN run's threshold and beta in force, and of their updates.
IOU_THR_SCALAR = "dynrcnn/iou_thr"
BETA_SCALAR = "dynrcnn/beta"
UPDATED_SCALARS = {IOU_THR_SCALAR: "dynrcnn/updated_iou_thr", BETA_SCALAR: "dynrcnn/updated_beta"}
#: A static control's run-folder file: the full run's final values and the cfg options they make.
ENDPOINT_FILE = "endpoint.json"


def control_record(variant, assigner, loss_bbox, endpoint=None):
    """The ``run.control`` block of a control's metrics.json: the values it trained with, read from its resolved
    config (and, for the static endpoint, the full run's values it took them from).

    Args:
        variant (str): the control's variant.
        assigner (dict): the resolved config's R-CNN assigner (:data:`ASSIGNER_KEY`).
        loss_bbox (dict): the resolved config's R-CNN box loss (:data:`LOSS_BBOX_KEY`).
        endpoint (dict, optional): the static control's :func:`read_endpoint` record.

    Returns:
        dict | None: ``{kind, iou_thr, beta (None for L1 loss), loss[, endpoint]}``; None for a variant that is no
        control.
    """
    control = parse_control(variant)
    if control is None:
        return None
    record = dict(
        kind=control["kind"],
        iou_thr=float(assigner["pos_iou_thr"]),
        beta=float(loss_bbox["beta"]) if loss_bbox.get("type") == SMOOTH_L1 else None,
        loss=str(loss_bbox.get("type")),
    )
    if control["kind"] == "static":
        if endpoint is None:
            raise RunRecordError(f"variant {variant!r}: a static control's record needs its {ENDPOINT_FILE}")
        record["endpoint"] = dict(run=endpoint["run"], step=endpoint["step"], **endpoint["values"])
    return record


def _control_problem(run):
    """What is wrong with the ``control`` block of a checked ``run`` block (None when fine)."""
    try:
        control = parse_control(run["variant"])
    except ValueError as e:
        return f"run.{e}"
    block = run.get("control")
    if control is None:
        return None if block is None else f"run.control is set but variant {run['variant']!r} is no control"
    if run["arm"] != CONTROL_ARM:
        return f"run.variant {run['variant']!r} is a control, a variant of arm {CONTROL_ARM!r} only, not {run['arm']!r}"
    if not isinstance(block, dict):
        return f"run.control is {block!r}, expected an object (a control records the values it trained with)"
    if block.get("kind") != control["kind"]:
        return f"run.control.kind is {block.get('kind')!r} but the variant {run['variant']!r} is {control['kind']!r}"
    if control_problem("iou", block.get("iou_thr")):
        return f"run.control.iou_thr: {control_problem('iou', block.get('iou_thr'))}"
    if block.get("loss") not in (SMOOTH_L1, L1):
        return f"run.control.loss is {block.get('loss')!r}, expected {SMOOTH_L1} or {L1}"
    if block["loss"] == L1 and block.get("beta") is not None:
        return f"run.control.beta is {block.get('beta')!r}, expected null with {L1}"
    if block["loss"] == SMOOTH_L1 and control_problem("beta", block.get("beta")):
        return f"run.control.beta: {control_problem('beta', block.get('beta'))}"
    expected = dict(control, loss=L1 if control["kind"] == "l1" else SMOOTH_L1)
    if control["kind"] == "static":
        endpoint = block.get("endpoint")
        if not isinstance(endpoint, dict) or not all(_number(endpoint.get(k)) for k in ("iou_thr", "beta")):
            return "run.control.endpoint must hold the full run's final iou_thr and beta"
        expected.update(iou_thr=endpoint["iou_thr"], beta=endpoint["beta"])
    for key, value in expected.items():
        if block.get(key) != value:
            return f"run.control.{key} is {block.get(key)!r} but the variant {run['variant']!r} fixes {value!r}"
    return None


def final_dynamic_values(path):
    """The IoU threshold and SmoothL1 beta a Dynamic R-CNN run ended with, from its ``scalars.json``: those in force
    after its last logged iteration (that iteration's update when it made one). An update in the few unlogged
    iterations after it (fewer than the logger interval) would not be seen (the synthetic family logs its last
    iteration: its iterations per epoch are a multiple of its logger interval).

    Args:
        path (str): the run's scalars.json.

    Returns:
        tuple[int, dict]: the last logged iteration, ``{"iou_thr": ..., "beta": ...}``.

    Raises:
        RunRecordError: missing, malformed, or no line with both values (not a run with DLA and DSL).
    """
    train, _ = read_scalars(path)
    line = max(train, key=lambda t: t["step"])
    values = {}
    for name, key in (("iou_thr", IOU_THR_SCALAR), ("beta", BETA_SCALAR)):
        value = line.get(UPDATED_SCALARS[key], line.get(key))
        if not _number(value):
            raise RunRecordError(
                f"{path}: its last training line (step {line['step']}) has no number {key}: not the scalar log of a "
                f"Dynamic R-CNN run. {SCALARS_FIX}"
            )
        values[name] = float(value)
    return int(line["step"]), values


def endpoint_problem(record):
    """What is wrong with an :data:`ENDPOINT_FILE` record (None when well-formed)."""
    if not isinstance(record, dict):
        return f"expected a JSON object, not a {type(record).__name__}"
    if not isinstance(record.get("run"), str) or not isinstance(record.get("step"), int):
        return 'no "run" (the full run\'s name) or integer "step"'
    values = record.get("values")
    if not isinstance(values, dict) or set(values) != {"iou_thr", "beta"}:
        return 'no "values" object with exactly iou_thr and beta'
    for kind, key in (("iou", "iou_thr"), ("beta", "beta")):
        if control_problem(kind, values[key]):
            return f"values.{key}: {control_problem(kind, values[key])}"
    if record.get("cfg_options") != control_cfg_options(iou_thr=values["iou_thr"], beta=values["beta"]):
        return '"cfg_options" do not fix exactly the recorded values'
    return None


ENDPOINT_FIX = "Delete it so that the pipeline extracts it again from the full run's scalars.json"


def write_endpoint(path, scalars, run):
    """Write a static control's :data:`ENDPOINT_FILE` from the full run's ``scalars.json``, atomically.

    The file holds ``{"run", "scalars", "step", "values": {iou_thr, beta}, "cfg_options": {key: value}}``; the
    training reads its ``cfg_options`` (``python -m dynrcnn.tools.train --cfg-options-file``).

    Args:
        path (str): the endpoint file (in the control's run folder).
        scalars (str): the full run's scalars.json.
        run (str): the full run's name (:func:`run_name`).

    Returns:
        dict: the record written.
    """
    step, values = final_dynamic_values(scalars)
    record = dict(run=run, scalars=str(scalars), step=step, values=values, cfg_options=control_cfg_options(**values))
    problem = endpoint_problem(record)
    if problem:
        raise RunRecordError(f"{scalars}: its final values make no usable static control: {problem}")
    atomic_write_json(path, record)
    return record


def read_endpoint(path):
    """Read and check a static control's :data:`ENDPOINT_FILE` (see :func:`write_endpoint`).

    Raises:
        RunRecordError: naming the file, what is wrong and the fix.
    """
    record = _load_json(path, ENDPOINT_FIX)
    problem = endpoint_problem(record)
    if problem:
        raise RunRecordError(f"{path}: not a static-endpoint record ({problem}). {ENDPOINT_FIX}")
    return record


def read_cfg_options_file(path):
    """The ``cfg_options`` object (``{key: value}``) of a JSON file such as :data:`ENDPOINT_FILE`.

    Raises:
        RunRecordError: missing, not JSON, or no object of keys to numbers, booleans or strings.
    """
    record = _load_json(path, 'Give a JSON file with a "cfg_options" object')
    options = record.get("cfg_options") if isinstance(record, dict) else None
    if not isinstance(options, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float, bool, str)) for k, v in options.items()
    ):
        raise RunRecordError(f'{path}: no "cfg_options" object of keys to numbers, booleans or strings')
    return options


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

#: The keys of metrics.json's ``provenance`` block that come from the training's manifest (how the run trained).
PROVENANCE_MANIFEST_KEYS = (
    "config_sha256",
    "seed",
    "device",
    "wall_time_s",
    "gpus",
    "images_per_gpu",
    "lr",
    "base_lr",
    "threads",
    "cpu_model",
    "cpu_capability",
)
#: Every key of metrics.json's ``provenance`` block (:func:`provenance_record`): the code and packages, the
#: training's (:data:`PROVENANCE_MANIFEST_KEYS`), then the evaluation's (its device, CPU and wall time) and the
#: checkpoint evaluated (its file name in the work dir).
PROVENANCE_KEYS = (
    "git_commit",
    "packages",
    *PROVENANCE_MANIFEST_KEYS,
    "eval_device",
    "eval_cpu_model",
    "eval_cpu_capability",
    "eval_wall_time_s",
    "checkpoint",
    "weights_sha256",
    "annotations_sha256",
)


def provenance_record(
    manifest,
    git_commit,
    packages,
    eval_device,
    eval_cpu,
    eval_wall_time_s,
    weights_sha256=None,
    annotations_sha256=None,
):
    """The ``provenance`` block of a run's metrics.json.

    Args:
        manifest (dict): the run's train_manifest.json (:func:`read_manifest`).
        git_commit (str | None): the code's commit (``-dirty`` when the tree had changes).
        packages (dict): package name -> version.
        eval_device (str | None): the evaluation's GPU, ``"cpu"``, or None when detections were given.
        eval_cpu (dict): the evaluating machine's ``cpu_model`` and ``cpu_capability``.
        eval_wall_time_s (float): the evaluation's wall time.
        weights_sha256 (str | None): SHA-256 of the final checkpoint's published weights (its ``meta`` and
            ``state_dict``, :func:`dynrcnn.tools.export.weights_sha256`): what `export` checks its weights against.
        annotations_sha256 (dict | None): annotation file name -> SHA-256, as the evaluation read them.

    Returns:
        dict: :data:`PROVENANCE_KEYS`, in that order.
    """
    record = dict(git_commit=git_commit, packages=packages)
    record.update({key: manifest[key] for key in PROVENANCE_MANIFEST_KEYS})
    record.update(
        eval_device=eval_device,
        eval_cpu_model=eval_cpu.get("cpu_model"),
        eval_cpu_capability=eval_cpu.get("cpu_capability"),
        eval_wall_time_s=eval_wall_time_s,
        checkpoint=os.path.basename(manifest["checkpoint"]),
        weights_sha256=weights_sha256,
        annotations_sha256=annotations_sha256,
    )
    return record


def provenance_values(record):
    """A metrics record's provenance by :data:`PROVENANCE_KEYS` (None for a key an older record lacks)."""
    block = record.get("provenance") or {}
    return {key: block.get(key) for key in PROVENANCE_KEYS}


def metrics_problem(record):
    """What is wrong with a metrics record (None when it is complete and well-formed).

    A record is ``{"run": {family, arm, variant, seed, dataset, hyperparameters}, "metrics": {AP, AP50, AP75, APS,
    APM, APL, AP_at_iou: {"0.50": ..., ..., "0.95": ...}}, "provenance": {...}}`` (:func:`provenance_record`);
    metrics are COCOeval fractions in [0, 1], or -1 where COCOeval leaves them undefined. A control
    (:func:`parse_control`) also holds ``run.control``, the values it trained with (:func:`control_record`), which
    must be those its variant fixes.
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
    problem = _control_problem(run)
    if problem:
        return problem
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


def json_lines(path, fix=""):
    """The JSON lines of a log the training writes (``scalars.json``, a rank's ``dynrcnn_rank{r}.jsonl``).

    Yields:
        tuple[int, object]: line number (from 1) and the decoded line; blank lines are skipped.

    Raises:
        RunRecordError: a line that is not JSON (the message names the file, the line and ``fix``).
        FileNotFoundError: no such file.
    """
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except ValueError as e:
                raise RunRecordError(f"{path}: line {number} is not valid JSON ({e}). {fix}".rstrip()) from None


def read_scalars(path):
    """Read a run's ``scalars.json`` (JSON lines, each with a numeric ``step``).

    Returns:
        tuple[list[dict], list[dict]]: training lines and validation lines, in file order.

    Raises:
        RunRecordError: missing, a malformed line, or no training line.
    """
    train, val = [], []
    try:
        for number, line in json_lines(path, fix=SCALARS_FIX):
            if not isinstance(line, dict) or not _number(line.get("step")):
                raise RunRecordError(f'{path}: line {number} has no numeric "step". {SCALARS_FIX}')
            (train if is_train_line(line) else val).append(line)
    except FileNotFoundError:
        raise RunRecordError(f"{path}: missing. {SCALARS_FIX}") from None
    if not train:
        raise RunRecordError(f"{path}: no training iterations logged. {SCALARS_FIX}")
    return train, val
