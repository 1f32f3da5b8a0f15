"""Read the runs the report is given and validate them.

The report reads exactly the files it is passed (the workflow passes those of the runs in the current config): a
run folder ``.../{arm}/{variant}/seed{seed}/`` left from an earlier config is not looked at. ``metrics.json`` and
``scalars.json`` are read and checked by :mod:`dynrcnn.run_record`, the owner of their format. Everything is read
and checked before any report file is written, so a missing or corrupt run output stops the report with one message
that names the run and the file.
"""

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dynrcnn.run_record import (
    ARMS,
    DEFAULT_VARIANT,
    HYPERPARAMETERS,
    IOU_KEYS,
    SUMMARY_METRICS,
    RunRecordError,
    epoch_detection_files,
    lowest_seed_runs,
    parse_variant,
    provenance_values,
    read_metrics,
    read_scalars,
    run_name,
)

SEED_RE = re.compile(r"seed([0-9]+)")


class RunOutputError(Exception):
    """A run's output is missing or corrupt (the message names the run and the file)."""


@dataclass
class Run:
    """One finished training run.

    Args:
        arm (str): ablation arm.
        variant (str): ``default``, ``ki{K_I}-kb{K_beta}-c{C}`` or a control (``beta{B}``, ``l1``, ``iou{T}``,
            ``static``).
        seed (int): random seed.
        path (Path): the run folder.
        family (str): config family.
        dataset (str): ``synthetic`` or ``coco``.
        metrics (dict): metric name -> fraction in [0, 1], NaN where COCOeval gave -1 (undefined).
            Names: ``AP``, ``AP50``, ``AP75``, ``APS``, ``APM``, ``APL`` and ``AP@0.50`` ... ``AP@0.95``.
        hyperparameters (dict): ``iou_topk``, ``beta_topk``, ``update_iter_interval``.
        provenance (dict): the ``provenance`` block of metrics.json by ``dynrcnn.run_record.PROVENANCE_KEYS``
            (None for a key an older record lacks).
        train (pd.DataFrame): training scalars, one row per logged iteration, column ``step``.
        val (pd.DataFrame): validation scalars, one row per evaluation, column ``step`` (= epoch).
        detections (dict): epoch -> path of ``epoch_detections/epoch_{N}.bbox.json`` (empty when not given).
        control (dict | None): a control's fixed values (``run.control`` of metrics.json), None for other runs.
    """

    arm: str
    variant: str
    seed: int
    path: Path
    family: str
    dataset: str
    metrics: dict
    hyperparameters: dict
    provenance: dict
    train: pd.DataFrame = field(repr=False)
    val: pd.DataFrame = field(repr=False)
    detections: dict = field(repr=False)
    control: dict | None = None

    @property
    def name(self):
        """str: ``{arm}/{variant}/seed{seed}``, the name used in messages."""
        return run_name(self.arm, self.variant, self.seed)


def _fail(name, path, problem, fix):
    raise RunOutputError(f"run {name}: {path}: {problem}. {fix}")


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fractions(metrics):
    """The ``metrics`` block of a checked metrics.json as :attr:`Run.metrics` (-1, undefined, becomes NaN)."""
    values = {k: metrics[k] for k in SUMMARY_METRICS}
    values.update({f"AP@{k}": metrics["AP_at_iou"][k] for k in IOU_KEYS})
    return {k: float("nan") if v == -1 else float(v) for k, v in values.items()}


def scalar_frames(train, val):
    """Training and validation lines (:func:`dynrcnn.run_record.read_scalars`) as frames sorted by ``step``.

    COCOeval's -1 in a validation line's ``coco/...`` value means undefined (no ground truth in that range), not
    a score: it becomes NaN.

    Returns:
        tuple[pd.DataFrame, pd.DataFrame]
    """
    val = [{k: float("nan") if k.startswith("coco/") and v == -1 else v for k, v in row.items()} for row in val]
    frames = []
    for rows in (train, val):
        frame = pd.DataFrame(rows) if rows else pd.DataFrame({"step": pd.Series(dtype=float)})
        frames.append(frame.sort_values("step", kind="stable").reset_index(drop=True))
    return frames[0], frames[1]


def read_detections(path, name, image_ids=None):
    """Read a COCO result-format detection file.

    Args:
        path (Path): ``epoch_detections/epoch_{N}.bbox.json``.
        name (str): the run's name, for messages.
        image_ids (set[int], optional): keep only these images.

    Returns:
        list[dict]: detections with ``image_id``, ``category_id``, ``bbox`` (x, y, w, h), ``score``.
    """
    fix = "Delete the run's epoch_detections folder so that the pipeline makes it again"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(name, path, "missing", fix)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        _fail(name, path, f"not valid JSON ({e})", fix)
    if not isinstance(data, list):
        _fail(name, path, "expected a JSON list of detections (COCO result format)", fix)
    kept = []
    for i, det in enumerate(data):
        if (
            not isinstance(det, dict)
            or not _number(det.get("score"))
            or not isinstance(det.get("bbox"), list)
            or len(det["bbox"]) != 4
            or "image_id" not in det
        ):
            _fail(name, path, f"entry {i} is not a COCO detection (image_id, bbox [x, y, w, h], score)", fix)
        if image_ids is None or det["image_id"] in image_ids:
            kept.append(det)
    return kept


def parse_run_folder(folder):
    """``(arm, variant, seed)`` of a run folder ``.../{arm}/{variant}/seed{seed}``.

    Raises:
        RunOutputError: the folder is not shaped like that.
    """
    folder = Path(folder)
    arm, variant, seed_dir = folder.parent.parent.name, folder.parent.name, folder.name
    match = SEED_RE.fullmatch(seed_dir)
    if arm not in ARMS:
        problem = f"arm folder {arm!r} is not one of {', '.join(ARMS)}"
    elif not match:
        problem = f"{seed_dir!r} is not a seed folder seed{{N}}"
    else:
        try:
            parse_variant(variant)
            return arm, variant, int(match.group(1))
        except ValueError as e:
            problem = str(e)
    raise RunOutputError(f"{folder}: not a run folder {{arm}}/{{variant}}/seed{{N}} ({problem})")


def _by_folder(option, paths):
    """``{run folder: path}`` of the files given with ``option`` (the run folder is a file's parent)."""
    found = {}
    for path in map(Path, paths):
        folder = path.absolute().parent
        if folder in found:
            raise RunOutputError(f"{option}: {found[folder]} and {path} are in the same run folder")
        found[folder] = path
    return found


def load_runs(metrics_files, scalars_files, epoch_detection_dirs=(), family=None, dataset=None):
    """Read and validate exactly the given runs; no folder is scanned for others.

    A run is the folder ``.../{arm}/{variant}/seed{seed}`` that holds its ``metrics.json``; its ``scalars.json``
    and its ``epoch_detections`` folder are matched to it by their parent folder. A run without its scalars, a
    file of no given run, or (when any ``epoch_detections`` is given) the lowest seed of an arm and variant without
    its folder is an error: the sample figures draw that seed, the pipeline makes no other seed's.

    Args:
        metrics_files (list[str | Path]): one ``metrics.json`` per run.
        scalars_files (list[str | Path]): one ``scalars.json`` per run.
        epoch_detection_dirs (list[str | Path]): ``epoch_detections`` folders: at least the lowest seed's of each
            arm and variant, or none at all (the sample-detection figures then say so).
        family (str, optional): expected ``run.family`` (checked when given).
        dataset (str, optional): expected ``run.dataset`` (checked when given).

    Returns:
        list[Run]: sorted by arm order, variant (``default`` first), seed.

    Raises:
        RunOutputError: naming the run and the file.
    """
    metrics, scalars, epoch_dirs = _given_files(metrics_files, scalars_files, epoch_detection_dirs)
    runs = []
    for folder, metrics_path in metrics.items():
        arm, variant, seed = parse_run_folder(metrics_path.absolute().parent)
        name = run_name(arm, variant, seed)
        if folder not in scalars:
            raise RunOutputError(f"run {name}: --scalars has no file of its run folder {metrics_path.parent}")
        expect = dict(arm=arm, variant=variant, seed=seed, family=family, dataset=dataset)
        try:
            record = read_metrics(metrics_path, expect={k: v for k, v in expect.items() if v is not None})
            train, val = scalar_frames(*read_scalars(scalars[folder]))
        except RunRecordError as e:
            raise RunOutputError(f"run {name}: {e}") from None
        detections = _detection_files(name, epoch_dirs.get(folder))
        block = record["run"]
        runs.append(
            Run(
                arm=arm,
                variant=variant,
                seed=seed,
                path=metrics_path.parent,
                family=block["family"],
                dataset=block["dataset"],
                metrics=fractions(record["metrics"]),
                hyperparameters={k: block["hyperparameters"][k] for k in HYPERPARAMETERS},
                provenance=provenance_values(record),
                train=train,
                val=val,
                detections=detections,
                control=block.get("control"),
            )
        )
    runs = sorted(runs, key=lambda r: (ARMS.index(r.arm), r.variant != DEFAULT_VARIANT, r.variant, r.seed))
    _check_sample_detections(runs, epoch_dirs)
    return runs


def _given_files(metrics_files, scalars_files, epoch_detection_dirs):
    """The given files by run folder: ``(metrics, scalars, epoch_dirs)``, each ``{folder: path}``; a scalars file
    or detection folder of no given run is an error."""
    metrics = _by_folder("--metrics", metrics_files)
    if not metrics:
        raise RunOutputError("no runs given: pass the metrics.json of every run with --metrics")
    scalars = _by_folder("--scalars", scalars_files)
    epoch_dirs = _by_folder("--epoch-detections", epoch_detection_dirs)
    for option, given in (("--scalars", scalars), ("--epoch-detections", epoch_dirs)):
        for folder, path in given.items():
            if folder not in metrics:
                raise RunOutputError(
                    f"{option} {path}: no --metrics file of its run folder {path.parent} was "
                    "given (pass all files of a run, or none)"
                )
    return metrics, scalars, epoch_dirs


def _detection_files(name, epoch_dir):
    """``{epoch: path}`` of the detection files in a run's ``epoch_detections`` folder (None: no folder given)."""
    if epoch_dir is None:
        return {}
    if not epoch_dir.is_dir():
        _fail(name, epoch_dir, "missing (not a folder)", "Let the pipeline make the run's epoch detections again")
    return {e: Path(p) for e, p in epoch_detection_files(epoch_dir).items()}


def _check_sample_detections(runs, epoch_dirs):
    """When any detection folder is given, each arm and variant's lowest seed must have one."""
    if epoch_dirs:
        # the sample figures draw each arm's lowest seed: the pipeline makes its detections only (other seeds may
        # have theirs, unused)
        for run in lowest_seed_runs(runs):
            if run.path.absolute() not in epoch_dirs:
                raise RunOutputError(
                    f"run {run.name}: --epoch-detections has no folder of its run folder {run.path} (the sample "
                    "figures draw the lowest seed of each arm and variant: pass its epoch_detections folder)"
                )
