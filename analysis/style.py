"""One place for arm names and colours, so every table and figure agrees (the arms and their order are
:data:`dynrcnn.run_record.ARMS`)."""

import matplotlib

from dynrcnn.run_record import ARMS

matplotlib.use("Agg")  # the report runs headless (pipeline jobs, CI)

__all__ = ["ARMS", "ARM_LABELS", "ARM_COLORS", "ARM_LINESTYLES", "GT_COLOR", "RC_PARAMS", "arm_color"]

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

RC_PARAMS = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
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
