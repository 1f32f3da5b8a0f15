"""The control runs: their naming (variant names) and the values they fix (standard library only).

A control is a run of the baseline arm with the R-CNN head's IoU threshold or box loss fixed for the whole training
(DLA and DSL off): does Dynamic R-CNN gain by its dynamics, or by ending at a higher threshold and a smaller beta? The
pipeline plans them (:mod:`dynrcnn.pipeline.plan`), the train tool receives their values as cfg options; their
records (metrics.json's ``run.control``, a static control's endpoint file) are formats of :mod:`dynrcnn.run_record`,
which re-exports these names.
"""

import decimal
import math
import re

#: The arm every control is a run of.
CONTROL_ARM = "baseline"
#: The kinds of control and their variant names: a fixed SmoothL1 beta (``beta0.5``), plain L1 loss (``l1``), a fixed
#: IoU threshold (``iou0.6``), and the static endpoint (``static``): threshold and beta fixed at the values the full
#: Dynamic R-CNN run of the same seed (:data:`STATIC_SOURCE_ARM`, variant ``default``) ended with.
CONTROL_KINDS = ("beta", "l1", "iou", "static")
CONTROL_NAMES = "beta{B}, l1, iou{T}, static"
L1_VARIANT = "l1"
STATIC_VARIANT = "static"
#: The arm whose final threshold and beta a static control trains with (its endpoint file, :mod:`dynrcnn.run_record`).
STATIC_SOURCE_ARM = "dynamic_rcnn"
#: Where the R-CNN assigner's thresholds and the R-CNN box loss live in an MMDetection config.
ASSIGNER_KEY = "model.train_cfg.rcnn.assigner"
ASSIGNER_THRESHOLDS = ("pos_iou_thr", "neg_iou_thr", "min_pos_iou")
LOSS_BBOX_KEY = "model.roi_head.bbox_head.loss_bbox"
SMOOTH_L1 = "SmoothL1Loss"
L1 = "L1Loss"
_CONTROL_RE = re.compile(r"(?P<kind>beta|iou)(?P<value>[0-9]+\.[0-9]+)")


def format_value(value):
    """A float as a variant name spells it: the shortest decimal that reads back as the same float, always with a
    point and never in exponent notation (``0.5``, ``2.0``, ``0.00001``)."""
    text = format(decimal.Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def control_problem(kind, value=None):
    """What is wrong with a control's value (None when it is usable).

    Args:
        kind (str): one of :data:`CONTROL_KINDS`.
        value (float, optional): the beta (``beta``) or the IoU threshold (``iou``).

    Returns:
        str | None: e.g. ``"an IoU threshold must lie strictly between 0 and 1, not 1.2"``.
    """
    if kind not in CONTROL_KINDS:
        return f"unknown control kind {kind!r} (one of {', '.join(CONTROL_KINDS)})"
    if kind in ("l1", "static"):
        return None if value is None else f"a {kind} control takes no value, got {value!r}"
    if not _number(value):
        return f"a {kind} control needs a finite number, got {value!r}"
    if kind == "beta" and value <= 0:
        return f"a SmoothL1 beta must be positive, not {value!r} (plain L1 loss is the l1 control)"
    if kind == "iou" and not 0 < value < 1:
        return f"an IoU threshold must lie strictly between 0 and 1, not {value!r}"
    return None


def control_variant(kind, value=None):
    """The variant name of a control: ``beta{B}``, ``l1``, ``iou{T}`` or ``static`` (B, T as :func:`format_value`).

    Raises:
        ValueError: :func:`control_problem`.
    """
    problem = control_problem(kind, value)
    if problem:
        raise ValueError(problem)
    return {"l1": L1_VARIANT, "static": STATIC_VARIANT}.get(kind) or f"{kind}{format_value(value)}"


def parse_control(variant):
    """What a control's variant name fixes; None for a variant that is no control.

    Returns:
        dict | None: ``{"kind": "beta", "beta": 0.5}``, ``{"kind": "l1"}``, ``{"kind": "iou", "iou_thr": 0.6}`` or
        ``{"kind": "static"}`` (its values come from the full run's :data:`ENDPOINT_FILE`).

    Raises:
        ValueError: a control name with an unusable value or a non-canonical spelling (``beta0.50``).
    """
    if variant in (L1_VARIANT, STATIC_VARIANT):
        return {"kind": variant}
    match = _CONTROL_RE.fullmatch(variant)
    if not match:
        return None
    kind, value = match.group("kind"), float(match.group("value"))
    problem = control_problem(kind, value)
    if problem:
        raise ValueError(f"variant {variant!r}: {problem}")
    if control_variant(kind, value) != variant:
        raise ValueError(f"variant {variant!r} is spelled {control_variant(kind, value)!r}")
    return {"kind": kind, "beta" if kind == "beta" else "iou_thr": value}


def control_cfg_options(iou_thr=None, beta=None, l1_loss_weight=None):
    """The mmengine cfg options that fix the R-CNN head's IoU threshold, SmoothL1 beta or box loss.

    Args:
        iou_thr (float, optional): the assigner's positive, negative and minimum-positive threshold (as Dynamic
            R-CNN sets them: no ignore zone).
        beta (float, optional): the SmoothL1 beta.
        l1_loss_weight (float, optional): replace the box loss by plain L1 loss of this weight.

    Returns:
        dict: ``{key: value}`` (e.g. ``model.train_cfg.rcnn.assigner.pos_iou_thr: 0.6``).
    """
    options = {}
    if iou_thr is not None:
        options.update({f"{ASSIGNER_KEY}.{name}": float(iou_thr) for name in ASSIGNER_THRESHOLDS})
    if beta is not None:
        options[f"{LOSS_BBOX_KEY}.beta"] = float(beta)
    if l1_loss_weight is not None:
        options.update(
            {
                f"{LOSS_BBOX_KEY}._delete_": True,
                f"{LOSS_BBOX_KEY}.type": L1,
                f"{LOSS_BBOX_KEY}.loss_weight": float(l1_loss_weight),
            }
        )
    return options


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
