"""Every COCO box metric of one detection file, read from a single pycocotools COCOeval run.

MMDetection's ``CocoMetric`` reports AP, AP50, AP75 and APS/M/L only; the paper's AP60..AP90 columns need the
per-threshold precision that COCOeval keeps in ``eval['precision']``. Computing everything from the same
COCOeval object guarantees that the per-IoU values and the summary agree.
"""

import contextlib
import copy
import io
import json
import os
from collections.abc import Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dynrcnn.run_record import IOU_KEYS, SUMMARY_METRICS


def load_coco_quietly(ann_file: str) -> COCO:
    """Load a COCO annotation file without pycocotools' progress prints.

    Args:
        ann_file (str): Path of a COCO-format annotation json.

    Returns:
        COCO: The loaded ground truth.
    """
    if not os.path.isfile(ann_file):
        raise FileNotFoundError(
            f"COCO annotation file not found: {ann_file!r}; check the dataset root (pipeline config key dataset.root)"
        )
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(ann_file)


def _load_results(coco_gt: COCO, detections: list[dict]) -> COCO:
    """``COCO.loadRes`` that also accepts an empty detection list (loadRes indexes ``anns[0]``)."""
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            return coco_gt.loadRes(copy.deepcopy(detections))
    # No detections at all is a legitimate (bad) result: every AP with ground truth is 0, not an error.
    coco_dt = COCO()
    coco_dt.dataset = dict(
        images=list(coco_gt.dataset["images"]), categories=copy.deepcopy(coco_gt.dataset["categories"]), annotations=[]
    )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt.createIndex()
    return coco_dt


def ap_at_iou(coco_eval: COCOeval, max_dets: int = 100) -> dict[str, float]:
    """AP at every IoU threshold of an accumulated COCOeval, area 'all'.

    Thresholds are looked up by position (``np.linspace(.5, .95, 10)`` stores 0.9 as 0.8999999999999999) and
    named by :data:`dynrcnn.run_record.IOU_KEYS`; the maxDets column is looked up by its value, so MMDetection's
    ``[100, 300, 1000]`` works as well as the default.

    Args:
        coco_eval (COCOeval): An evaluator after ``evaluate()`` and ``accumulate()``.
        max_dets (int): The maxDets setting to read. Defaults to 100.

    Returns:
        dict[str, float]: ``{"0.50": ap, ..., "0.95": ap}``; -1 where no category has ground truth (COCOeval's
        convention for undefined).
    """
    if not coco_eval.eval:
        raise RuntimeError("COCOeval has no accumulated results: call evaluate() and accumulate() first")
    params = coco_eval.params
    if len(params.iouThrs) != len(IOU_KEYS) or not np.allclose(params.iouThrs, [float(k) for k in IOU_KEYS]):
        raise ValueError(f"the evaluator IoU thresholds {list(params.iouThrs)} are not COCO's {', '.join(IOU_KEYS)}")
    if max_dets not in list(params.maxDets):
        raise ValueError(f"max_dets={max_dets} is not one of the evaluator maxDets {list(params.maxDets)}")
    area_idx = list(params.areaRngLbl).index("all")
    det_idx = list(params.maxDets).index(max_dets)
    precision = coco_eval.eval["precision"]  # [T, R, K, A, M]
    result = {}
    for t_idx, key in enumerate(IOU_KEYS):
        values = precision[t_idx, :, :, area_idx, det_idx]
        valid = values[values > -1]
        result[key] = float(np.mean(valid)) if valid.size else -1.0
    return result


def evaluate_detections(
    ann_file: str, detections: str | Sequence[dict], max_dets: int = 100, img_ids: Sequence[int] | None = None
) -> dict[str, object]:
    """Evaluate COCO result-format boxes and return every metric the reports use.

    Args:
        ann_file (str): Ground-truth COCO annotation json of the evaluated split.
        detections (str | Sequence[dict]): A COCO result json path (``[{"image_id", "category_id", "bbox",
            "score"}, ...]``) or the list itself.
        max_dets (int): Detections per image considered (COCO's standard 100).
        img_ids (Sequence[int], optional): Restrict the evaluation to these images. Defaults to all images of
            the ground truth.

    Returns:
        dict: ``{"AP", "AP50", "AP75", "APS", "APM", "APL", "AP_at_iou": {"0.50": .., ..., "0.95": ..}}`` as
        fractions in [0, 1]; -1 marks an undefined value (e.g. no small objects in the ground truth).
    """
    if isinstance(detections, (str, os.PathLike)):
        with open(detections) as f:
            detections = json.load(f)
    if not isinstance(detections, list):
        raise TypeError(f"detections must be a list of COCO result dicts, got {type(detections).__name__}")
    coco_gt = load_coco_quietly(ann_file)
    coco_dt = _load_results(coco_gt, list(detections))
    coco_eval = COCOeval(coco_gt, coco_dt, "bbox")
    # The summary's AP/APS/APM/APL are read at maxDets[-1]; put max_dets last so stats and per-IoU agree.
    coco_eval.params.maxDets = [1, 10, max_dets]
    if img_ids is not None:
        coco_eval.params.imgIds = list(img_ids)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    metrics: dict[str, object] = {k: float(v) for k, v in zip(SUMMARY_METRICS, coco_eval.stats[:6])}
    metrics["AP_at_iou"] = ap_at_iou(coco_eval, max_dets=max_dets)
    return metrics
