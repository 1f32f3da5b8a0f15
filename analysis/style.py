"""One place for arm names and colours, so every table and figure agrees (the arms and their order are
:data:`dynrcnn.run_record.ARMS`)."""

import matplotlib

from dynrcnn.run_record import ARMS, CONTROL_KINDS, parse_control

matplotlib.use("Agg")  # the report runs headless (pipeline jobs, CI)

__all__ = [
    "ARMS",
    "ARM_LABELS",
    "ARM_COLORS",
    "ARM_LINESTYLES",
    "GT_COLOR",
    "DLA_ARMS",
    "DSL_ARMS",
    "SEED_COLORS",
    "SEED_MARKERS",
    "RC_PARAMS",
    "arm_color",
    "CONTROL_COLORS",
    "CONTROL_MARKERS",
    "control_label",
    "control_order",
]

ARM_LABELS = {
    "baseline": "Baseline (Faster R-CNN)",
    "dla": "+ DLA only",
    "dsl": "+ DSL only",
    "dynamic_rcnn": "Dynamic R-CNN (DLA + DSL)",
}

# Colour-blind safe (Okabe-Ito); the baseline is neutral grey.
ARM_COLORS = {
    "baseline": "#7f7f7f",
    "dla": "#0072B2",
    "dsl": "#E69F00",
    "dynamic_rcnn": "#D55E00",
}

# Line styles too, so arms whose curves coincide (e.g. constant thresholds) stay distinguishable.
ARM_LINESTYLES = {
    "baseline": ":",
    "dla": "--",
    "dsl": "-.",
    "dynamic_rcnn": "-",
}

GT_COLOR = "#00c853"

#: Arms that train with dynamic label assignment (their IoU threshold moves) and with dynamic SmoothL1 (their beta
#: moves, so their loss_bbox is another function than the other arms').
DLA_ARMS = ("dla", "dynamic_rcnn")
DSL_ARMS = ("dsl", "dynamic_rcnn")

#: One colour and marker per seed in the per-seed figure (colour-blind safe: Paul Tol's muted scheme), cycled.
SEED_COLORS = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255", "#AA4499")
SEED_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "<", ">")

RC_PARAMS = {
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "pdf.fonttype": 42,  # editable text in the PDFs
}


def arm_color(arm):
    """Colour of an arm.

    Args:
        arm (str): one of :data:`ARMS`.

    Returns:
        str: a matplotlib colour.
    """
    if arm not in ARM_COLORS:
        raise KeyError(f"unknown arm {arm!r}; expected one of {', '.join(ARMS)}")
    return ARM_COLORS[arm]


# Controls (baseline variants with fixed values): drawn in shades between the baseline's grey and black, each with
# its own marker, so they stay apart from the four arms.
CONTROL_COLORS = ("#4d4d4d", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#999933", "#882255", "#44AA99")
CONTROL_MARKERS = ("s", "^", "v", "P", "X", "D", "<", ">")


def control_label(variant):
    """Label of a control run (a baseline variant of :func:`dynrcnn.run_record.parse_control`).

    Args:
        variant (str): e.g. ``beta0.5``, ``l1``, ``iou0.6``, ``static``.

    Returns:
        str: e.g. ``"Baseline, β 0.5"``.
    """
    control = parse_control(variant)
    if control is None:
        raise KeyError(f"{variant!r} is no control variant")
    return {
        "beta": lambda: f"Baseline, β {control.get('beta', 0):g}",
        "l1": lambda: "Baseline, L1 loss",
        "iou": lambda: f"Baseline, IoU thr. {control.get('iou_thr', 0):g}",
        "static": lambda: "Baseline, static endpoint",
    }[control["kind"]]()


def control_order(variant):
    """Sort key of control variants: by kind (:data:`dynrcnn.run_record.CONTROL_KINDS`), then value."""
    control = parse_control(variant)
    return (CONTROL_KINDS.index(control["kind"]), control.get("beta", control.get("iou_thr", 0.0)))
