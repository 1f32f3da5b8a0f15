"""Report figures. Each ``*_figure`` function returns a matplotlib Figure (tests inspect it) and
:func:`save_figure` writes it as PNG and PDF.

Figures use the ``default`` variant of every arm; several seeds are drawn as their mean with a
min-max band. Arms keep the colours of :mod:`analysis.style` in every figure.
"""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from dynrcnn.run_record import IOU_KEYS

from . import references as R
from .outputs import NUM_SAMPLE_IMAGES
from .runs import read_detections
from .style import (
    ARM_LABELS,
    ARM_LINESTYLES,
    ARMS,
    CONTROL_COLORS,
    CONTROL_MARKERS,
    GT_COLOR,
    RC_PARAMS,
    arm_color,
    control_label,
)

ITERATION_LABEL = "training iteration"
LOSS_KEYS = ("loss", "loss_cls", "loss_bbox", "loss_rpn_cls", "loss_rpn_bbox")
VAL_AP_KEY = "coco/bbox_mAP"
MAX_EPOCH_COLUMNS = 6
MAX_BOXES = 20  # highest-scoring boxes drawn per panel, for readability


class ReportInputError(Exception):
    """A non-run input of the report (validation annotations or images) is missing or corrupt."""


def _title_suffix(dataset):
    return " (synthetic data)" if dataset == "synthetic" else " (COCO)"


def _new_figure(figsize):
    return Figure(figsize=figsize, layout="constrained")


def _styled(func):
    """Build the figure under the report's rc parameters (fonts, grid), without touching global state."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(RC_PARAMS):
            return func(*args, **kwargs)

    return wrapper


def curve(runs, key, split="train"):
    """Mean, min and max over seeds of one logged scalar against ``step``.

    Args:
        runs (list[Run]): runs of one arm.
        key (str): scalar name, e.g. ``dynrcnn/iou_thr``.
        split (str): ``train`` (step = iteration) or ``val`` (step = epoch).

    Returns:
        pd.DataFrame | None: columns ``step``, ``mean``, ``min``, ``max``, ``n``; None when no run logged it.
    """
    frames = [getattr(r, split)[["step", key]] for r in runs if key in getattr(r, split)]
    if not frames:
        return None
    values = pd.concat(frames, ignore_index=True).dropna()
    if values.empty:
        return None
    agg = values.groupby("step")[key].agg(["mean", "min", "max", "count"]).reset_index()
    return agg.rename(columns={"count": "n"})


def _window(smooth, points):
    """Running-mean window: ``smooth`` but never more than 5 % of a curve's points (short runs stay raw)."""
    return min(smooth, max(1, points // 20))


def _plot_curve(ax, c, arm, n, smooth=1, marker=None):
    window = _window(smooth, len(c))
    y = c["mean"].rolling(window, min_periods=1, center=True).mean() if window > 1 else c["mean"]
    ax.plot(
        c["step"],
        y,
        color=arm_color(arm),
        ls=ARM_LINESTYLES[arm],
        label=f"{ARM_LABELS[arm]} (n={n})",
        lw=1.4,
        marker=marker,
        ms=3,
    )
    if n > 1:
        ax.fill_between(c["step"], c["min"], c["max"], color=arm_color(arm), alpha=0.15, lw=0)


def _no_data(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.4")


@_styled
def dynamics_figure(by_arm, dataset, refs=None):
    """IoU threshold and SmoothL1 beta in force against iteration, per arm (the paper's central figure).

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco`` (COCO adds the author's reported trajectory).
        refs (list[Reference], optional): reference numbers.

    Returns:
        Figure: two axes (IoU threshold, beta).
    """
    fig = _new_figure((7, 5.2))
    ax_iou, ax_beta = fig.subplots(2, 1, sharex=True)
    for ax, key in ((ax_iou, "dynrcnn/iou_thr"), (ax_beta, "dynrcnn/beta")):
        for arm in ARMS:
            c = curve(by_arm.get(arm, []), key)
            if c is not None:
                _plot_curve(ax, c, arm, len(by_arm[arm]))
        if not ax.lines:
            _no_data(ax, f"no run logged {key}")
    if dataset == "coco" and refs:
        traj = sorted(
            (r for r in refs if r.table == "trajectory" and r.metric.startswith("iou_thr@")),
            key=lambda r: int(r.metric.split("@")[1]),
        )
        if traj:
            ax_iou.plot(
                [int(r.metric.split("@")[1]) for r in traj],
                [r.value for r in traj],
                "kx",
                ms=5,
                label=f"author, issue #3 (8 GPUs) {traj[0].mark}",
            )
        beta_end = R.find(refs, "trajectory", "dynamic_rcnn", "beta@end_1x")
        if beta_end:
            ax_beta.axhline(
                beta_end.value,
                color="k",
                ls=":",
                lw=1,
                label=f"author: ~{beta_end.value:g} at the end of 1x {beta_end.mark}",
            )
    ax_iou.set_ylabel("IoU threshold in force (IoU)")
    ax_beta.set_ylabel("SmoothL1 β in force\n(encoded box-delta units)")
    ax_beta.set_xlabel(ITERATION_LABEL)
    ax_iou.set_title("Dynamic label assignment and dynamic SmoothL1" + _title_suffix(dataset))
    for ax in (ax_iou, ax_beta):
        if ax.lines:
            ax.legend(loc="best")
    return fig


@_styled
def positives_figure(by_arm, dataset):
    """Positive RoIs per image against iteration, per arm.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Figure: one axis.
    """
    fig = _new_figure((7, 3.2))
    ax = fig.subplots()
    for arm in ARMS:
        c = curve(by_arm.get(arm, []), "dynrcnn/pos_per_img")
        if c is not None:
            _plot_curve(ax, c, arm, len(by_arm[arm]))
    if ax.lines:
        ax.legend(loc="best")
    else:
        _no_data(ax, "no run logged dynrcnn/pos_per_img")
    ax.set_xlabel(ITERATION_LABEL)
    ax.set_ylabel("positives per image (RoIs)")
    ax.set_title("Positive RoIs per image in the R-CNN head" + _title_suffix(dataset))
    return fig


@_styled
def ap_vs_iou_figure(by_arm, dataset, refs=None, controls=None):
    """AP at each IoU threshold 0.50 ... 0.95, per arm and per control (mean ± sample std over seeds).

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco`` (COCO adds the paper's AP50 ... AP90 points).
        refs (list[Reference], optional): reference numbers.
        controls (dict[str, list[Run]], optional): control runs per variant (:func:`analysis.tables.control_runs`),
            drawn beside the arms.

    Returns:
        Figure: one axis, one line per arm and per control with runs.
    """
    fig = _new_figure((6, 4))
    ax = fig.subplots()
    thresholds = [float(k) for k in IOU_KEYS]
    for arm in ARMS:
        rs = by_arm.get(arm, [])
        if not rs:
            continue
        values = np.array([[100 * r.metrics[f"AP@{k}"] for k in IOU_KEYS] for r in rs])
        std = values.std(axis=0, ddof=1) if len(rs) > 1 else None
        ax.errorbar(
            thresholds,
            values.mean(axis=0),
            yerr=std,
            color=arm_color(arm),
            ls=ARM_LINESTYLES[arm],
            marker="o",
            ms=3,
            lw=1.4,
            capsize=2,
            label=f"{ARM_LABELS[arm]} (n={len(rs)})",
        )
    _draw_controls(ax, thresholds, controls or {})
    if dataset == "coco" and refs:
        for arm in ARMS:
            pts = [
                (int(m[2:]) / 100, R.find(refs, "ablation", arm, m, source_key="paper"))
                for m in ("AP50", "AP60", "AP70", "AP80", "AP90")
            ]
            pts = [(t, r) for t, r in pts if r is not None]
            if pts:
                worst = "unverified" if any(r.status == "unverified" for _, r in pts) else pts[0][1].status
                ax.plot(
                    [t for t, _ in pts],
                    [r.value for _, r in pts],
                    ls="none",
                    marker="D",
                    mfc="none",
                    color=arm_color(arm),
                    label=f"paper, {ARM_LABELS[arm]} {R.STATUS_MARKS[worst]}",
                )
    if ax.lines:
        ax.legend(loc="best")
    ax.set_xlabel("IoU threshold of the AP (IoU)")
    ax.set_ylabel("AP (%)")
    ax.set_xticks(thresholds)
    ax.set_title("AP against IoU threshold" + _title_suffix(dataset))
    return fig


def _draw_controls(ax, thresholds, controls):
    """The controls' AP against IoU (thin lines, their own colours and markers) on the AP-against-IoU axis."""
    for i, (variant, rs) in enumerate(controls.items()):
        if not rs:
            continue
        values = np.array([[100 * r.metrics[f"AP@{k}"] for k in IOU_KEYS] for r in rs])
        ax.errorbar(
            thresholds,
            values.mean(axis=0),
            yerr=values.std(axis=0, ddof=1) if len(rs) > 1 else None,
            color=CONTROL_COLORS[i % len(CONTROL_COLORS)],
            ls=(0, (1, 1)),
            marker=CONTROL_MARKERS[i % len(CONTROL_MARKERS)],
            ms=3.5,
            lw=1.0,
            capsize=2,
            label=f"{control_label(variant)} (n={len(rs)})",
        )


#: IoU thresholds of the per-seed figure: the paper's ablation columns AP50 ... AP90.
SEED_FIGURE_IOUS = ("0.50", "0.60", "0.70", "0.80", "0.90")


@_styled
def ap_per_seed_figure(by_arm, dataset):
    """Every seed's AP and the mean per arm, one panel per IoU threshold (AP50, AP60, AP70, AP80, AP90).

    The seed-to-seed spread is drawn as it is (one dot per run, beside the arm's mean bar), so that a difference
    between arms can be read against the noise at each threshold.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Figure: one axis per threshold; in each, per arm with runs a mean marker (a horizontal bar, label
        ``mean``) and the seeds' points (label ``seeds``), x = the arm's position.
    """
    arms = [a for a in ARMS if by_arm.get(a)]
    fig = _new_figure((2.0 * len(SEED_FIGURE_IOUS) + 0.6, 3.4))
    axes = fig.subplots(1, len(SEED_FIGURE_IOUS), squeeze=False)[0]
    for ax, key in zip(axes, SEED_FIGURE_IOUS):
        ax.set_title(f"AP{round(100 * float(key))}")
        ax.set_xticks(range(len(arms)), [ARM_LABELS[a].split(" (")[0] for a in arms], rotation=40, ha="right")
        if not arms:
            _no_data(ax, "no runs")
            continue
        for x, arm in enumerate(arms):
            rs = sorted(by_arm[arm], key=lambda r: r.seed)
            values = np.array([100 * r.metrics[f"AP@{key}"] for r in rs])
            # seeds spread sideways so that equal values stay visible
            offsets = np.linspace(-0.15, 0.15, len(rs)) if len(rs) > 1 else np.zeros(1)
            ax.plot(x + offsets, values, ls="none", marker="o", ms=4, mfc="none", color=arm_color(arm), label="seeds")
            ax.plot([x - 0.3, x + 0.3], [values.mean()] * 2, lw=2.2, color=arm_color(arm), label="mean")
        ax.set_xlim(-0.6, len(arms) - 0.4)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
    axes[0].set_ylabel("AP (%)")
    ns = ", ".join(f"{ARM_LABELS[a].split(' (')[0]} n={len(by_arm[a])}" for a in arms)
    fig.suptitle(f"AP per seed (dots) and mean (bar) at each IoU threshold{_title_suffix(dataset)}\n{ns}")
    return fig


@_styled
def training_curves_figure(by_arm, dataset, smooth=10):
    """Training losses against iteration and validation AP against epoch, per arm.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.
        smooth (int): running-mean window over logged iterations for the losses.

    Returns:
        Figure: six axes (five losses, validation AP).
    """
    fig = _new_figure((11, 6))
    axes = fig.subplots(2, 3).ravel()
    for ax, key in zip(axes, LOSS_KEYS):
        for arm in ARMS:
            c = curve(by_arm.get(arm, []), key)
            if c is not None:
                _plot_curve(ax, c, arm, len(by_arm[arm]), smooth=smooth)
        if not ax.lines:
            _no_data(ax, f"no run logged {key}")
        ax.set_title(f"{key} (running mean of ≤ {smooth} logged iterations)" if smooth > 1 else key, fontsize=8)
        ax.set_xlabel(ITERATION_LABEL)
        ax.set_ylabel("loss value (unitless)")
    ax = axes[-1]
    for arm in ARMS:
        c = curve(by_arm.get(arm, []), VAL_AP_KEY, split="val")
        if c is not None:
            c[["mean", "min", "max"]] *= 100
            _plot_curve(ax, c, arm, len(by_arm[arm]), marker="o")
    if not ax.lines:
        _no_data(ax, f"no run logged {VAL_AP_KEY}")
    ax.set_title("validation bbox AP")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if ax.lines:  # at least one epoch either side, or a single validation gets fractional epoch ticks
        lo, hi = ax.get_xlim()
        ax.set_xlim(min(lo, np.floor(lo) - 0.5), max(hi, np.ceil(hi) + 0.5))
    ax.set_ylabel("bbox AP (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    for a in axes:
        if a.lines and len(a.get_legend_handles_labels()[1]) > len(labels):
            handles, labels = a.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(4, len(labels)))
    fig.suptitle("Training losses and validation AP" + _title_suffix(dataset))
    return fig


@dataclass
class ValSet:
    """Validation ground truth for the sample-detection figures.

    Args:
        images (dict[int, dict]): image id -> COCO image record (``file_name``, ``width``, ``height``).
        boxes (dict[int, list]): image id -> ground-truth boxes [x, y, w, h].
        image_dir (Path | None): folder of the images (None: draw on a blank canvas).
    """

    images: dict
    boxes: dict
    image_dir: Path = None

    def sample_ids(self, k=NUM_SAMPLE_IMAGES):
        """The fixed sample: the first ``k`` images with ground truth, in annotation-file order.

        File order is the dataset order of MMDetection's CocoDataset, so the sample lies within the
        first N images that per-epoch detection runs limited to N images cover.
        """
        return [i for i in self.images if self.boxes.get(i)][:k]


def load_val_set(ann_path, image_dir=None):
    """Read a COCO annotation file.

    Args:
        ann_path (str | Path): ``instances_val*.json``.
        image_dir (str | Path, optional): folder holding the images (``file_name`` is relative to it).

    Returns:
        ValSet
    """
    ann_path = Path(ann_path)
    try:
        data = json.loads(ann_path.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in data["images"]}
        boxes = {}
        for a in data["annotations"]:
            boxes.setdefault(int(a["image_id"]), []).append([float(v) for v in a["bbox"]])
    except FileNotFoundError:
        raise ReportInputError(
            f"--val-ann {ann_path}: missing; pass the COCO annotation file of the validation split"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ReportInputError(f"--val-ann {ann_path}: not a COCO annotation file ({e!r})") from None
    if image_dir is not None and not Path(image_dir).is_dir():
        raise ReportInputError(f"--val-images {image_dir}: not a folder; pass the validation image folder")
    return ValSet(images, boxes, Path(image_dir) if image_dir is not None else None)


def sample_epochs(by_arm, max_columns=MAX_EPOCH_COLUMNS):
    """The saved epochs shown as columns: all of them, or ``max_columns`` evenly spaced (first and last kept)."""
    epochs = sorted({e for rs in by_arm.values() if rs for e in min(rs, key=lambda r: r.seed).detections})
    if len(epochs) > max_columns:
        idx = np.unique(np.linspace(0, len(epochs) - 1, max_columns).round().astype(int))
        epochs = [epochs[i] for i in idx]
    return epochs


def load_sample_detections(by_arm, image_ids, epochs):
    """Detections of the sample images, from each arm's lowest seed, at the shown epochs.

    Returns:
        dict[(arm, epoch), dict[int, list[dict]]]: image id -> detections; missing epochs are absent.
    """
    out = {}
    ids = set(image_ids)
    for arm, rs in by_arm.items():
        if not rs:
            continue
        run = min(rs, key=lambda r: r.seed)
        for epoch in epochs:
            if epoch in run.detections:
                per_image = {}
                for d in read_detections(run.detections[epoch], run.name, ids):
                    per_image.setdefault(d["image_id"], []).append(d)
                out[(arm, epoch)] = per_image
    return out


def _image(val_set, image_id):
    info = val_set.images[image_id]
    if val_set.image_dir is None:
        return np.full((int(info.get("height", 1)), int(info.get("width", 1)), 3), 0.85)
    path = val_set.image_dir / info["file_name"]
    try:
        return imread(path)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise ReportInputError(
            f"--val-images: cannot read {path} ({e}); pass the folder of the validation images"
        ) from None


@_styled
def sample_detections_figure(by_arm, val_set, image_id, epochs, detections, dataset, score_thr=0.5):
    """One validation image: each arm's boxes (rows) at each saved checkpoint (columns), ground truth drawn.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        val_set (ValSet | None): ground truth; None draws a placeholder saying what is missing.
        image_id (int | None): the image; None when the validation set has fewer sample images.
        epochs (list[int]): checkpoint epochs to show.
        detections (dict): from :func:`load_sample_detections`.
        dataset (str): ``synthetic`` or ``coco``.
        score_thr (float): minimum score of a drawn detection.

    Returns:
        Figure
    """
    arms = [a for a in ARMS if by_arm.get(a)]
    if val_set is None or image_id is None or not arms or not epochs:
        fig = _new_figure((5, 2))
        ax = fig.subplots()
        ax.set_axis_off()
        why = (
            "no ground truth given (pass --val-ann and --val-images)"
            if val_set is None
            else "the validation set has fewer annotated images than sample slots"
            if image_id is None
            else "no run of the default variant"
            if not arms
            else "no epoch detections (pass --epoch-detections folders holding epoch_{N}.bbox.json)"
        )
        _no_data(ax, f"Sample detections not drawn: {why}.")
        return fig
    img = _image(val_set, image_id)
    # Fixed margins instead of constrained layout: the grid is regular and this is the slowest figure.
    panel, left, top = 1.9, 0.45, 0.75
    width, height = panel * len(epochs) + left + 0.1, panel * len(arms) + top + 0.1
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=left / width, right=1 - 0.1 / width, bottom=0.1 / height, top=1 - top / height, wspace=0.05, hspace=0.05
    )
    axes = fig.subplots(len(arms), len(epochs), squeeze=False)
    gt = [Rectangle((x, y), w, h) for x, y, w, h in val_set.boxes.get(image_id, [])]
    for i, arm in enumerate(arms):
        for j, epoch in enumerate(epochs):
            ax = axes[i, j]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            # One collection per box set: thousands of single patches make this figure slow.
            # ground truth on top of the detections so it stays visible
            ax.add_collection(
                PatchCollection(
                    gt,
                    facecolor="none",
                    edgecolor=GT_COLOR,
                    linewidth=1.5,
                    linestyle="--",
                    label="ground truth",
                    zorder=3,
                )
            )
            if (arm, epoch) not in detections:
                _no_data(ax, "not saved")
            else:
                dets = sorted(
                    (d for d in detections[(arm, epoch)].get(image_id, []) if d["score"] >= score_thr),
                    key=lambda d: -d["score"],
                )[:MAX_BOXES]
                ax.add_collection(
                    PatchCollection(
                        [Rectangle(d["bbox"][:2], *d["bbox"][2:]) for d in dets],
                        facecolor="none",
                        edgecolor=arm_color(arm),
                        linewidth=1.0,
                        label=f"{arm} detections",
                    )
                )
            if i == 0:
                ax.set_title(f"epoch {epoch}")
            if j == 0:
                ax.set_ylabel(ARM_LABELS[arm].replace(" (", "\n("), fontsize=7)
    name = val_set.images[image_id].get("file_name", image_id)
    seeds = ", ".join(f"{a} seed {min(r.seed for r in by_arm[a])}" for a in arms)
    fig.suptitle(
        f"Validation image {name} (id {image_id}){_title_suffix(dataset)}\n"
        f"ground truth: dashed green; detections with score ≥ {score_thr:g}: arm colour\n{seeds}",
        fontsize=7,
    )
    return fig


def save_figure(fig, stem):
    """Write ``{stem}.png`` and ``{stem}.pdf``.

    Args:
        fig (Figure): the figure.
        stem (str | Path): output path without extension (folder created).

    Returns:
        list[Path]
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    with mpl.rc_context(RC_PARAMS):
        for i, p in enumerate(paths):
            # Fixed metadata so reruns on the same inputs give the same bytes.
            metadata = {"Software": None} if p.suffix == ".png" else {"CreationDate": None}
            fig.savefig(p, metadata=metadata)
            if i == 0:
                # the layout the first file was drawn with serves the second: constrained layout is a good part of
                # a draw, and the formats share the font metrics
                fig.set_layout_engine("none")
    return paths


_PENDING = {}  # stem -> (make, path stem) of the figures save_figures is rendering (read by forked workers)


def _render(stem):
    make, path = _PENDING[stem]
    return [str(p) for p in save_figure(make(), path)]


def save_figures(makers, folder, jobs=None):
    """Build and write several figures (:func:`save_figure`), in parallel worker processes where the platform forks.

    Figures are independent and rendering them is most of a report's time; a forked worker inherits the data the
    makers close over, so nothing is pickled but the file names. The files are the same as a serial run writes.

    Args:
        makers (dict[str, Callable[[], Figure]]): file stem -> function building the figure.
        folder (str | Path): output folder.
        jobs (int, optional): worker processes; default: the CPUs this process may use (at most one per figure).
            1, or a platform without ``fork``: in this process.

    Returns:
        list[Path]: the files written, in the order of ``makers``.
    """
    import multiprocessing
    import os

    folder = Path(folder)
    if jobs is None:
        jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs = max(1, min(jobs, len(makers)))
    if jobs == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [p for stem, make in makers.items() for p in save_figure(make(), folder / stem)]
    _PENDING.clear()
    _PENDING.update({stem: (make, folder / stem) for stem, make in makers.items()})
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            return [Path(p) for paths in pool.map(_render, list(makers), chunksize=1) for p in paths]
    finally:
        _PENDING.clear()
