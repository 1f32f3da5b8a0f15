"""Report figures. Each ``*_figure`` function returns a matplotlib Figure (tests inspect it) and
:func:`save_figure` / :func:`save_figures` write figures as PNG and PDF.

Figures use the ``default`` variant of every arm; arms keep the colours of :mod:`analysis.style` in every figure, and
what a line, band or bar means is written in the figure itself. Modules: :mod:`.base` (shared drawing and saving),
:mod:`.training` (dynamics, positives, losses), :mod:`.accuracy` (AP against IoU, AP per seed, paired gains),
:mod:`.samples` (sample detections).
"""

from ..outputs import NUM_SAMPLE_IMAGES
from .accuracy import AP_FLOOR, MAX_LINES, SEED_METRICS, ap_per_seed_figure, ap_vs_iou_figure, gain_vs_iou_figure
from .base import curve, save_figure, save_figures
from .samples import (
    MAX_BOXES,
    ReportInputError,
    ValSet,
    load_sample_detections,
    load_val_set,
    sample_detections_figure,
    sample_epochs,
)
from .training import LOSS_KEYS, dynamics_figure, positives_figure, training_curves_figure

__all__ = [
    "AP_FLOOR",
    "LOSS_KEYS",
    "MAX_BOXES",
    "MAX_LINES",
    "NUM_SAMPLE_IMAGES",
    "SEED_METRICS",
    "ReportInputError",
    "ValSet",
    "ap_per_seed_figure",
    "ap_vs_iou_figure",
    "curve",
    "dynamics_figure",
    "gain_vs_iou_figure",
    "load_sample_detections",
    "load_val_set",
    "positives_figure",
    "sample_detections_figure",
    "sample_epochs",
    "save_figure",
    "save_figures",
    "training_curves_figure",
]
