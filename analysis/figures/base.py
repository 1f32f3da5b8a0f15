"""What every report figure shares: the report's rc parameters, the mean-and-band curves over seeds, notes written
into the figure, and writing figures as PNG and PDF (in parallel worker processes)."""

import functools
from pathlib import Path

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

from ..style import ARM_LABELS, ARM_LINESTYLES, RC_PARAMS, arm_color

ITERATION_LABEL = "training iteration"
#: What the band of a mean-over-seeds curve is, written in the figures that draw one.
MIN_MAX_BAND = "line: mean over seeds; band: min–max over seeds"


def title_suffix(dataset):
    """`` (synthetic data)`` or `` (COCO)``."""
    return " (synthetic data)" if dataset == "synthetic" else " (COCO)"


def new_figure(figsize):
    """A constrained-layout figure (titles and labels kept inside it)."""
    return Figure(figsize=figsize, layout="constrained")


def styled(func):
    """Build the figure under the report's rc parameters (fonts, grid, dpi), without touching global state."""

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


def window(smooth, points):
    """Running-mean window: ``smooth`` but never more than 5 % of a curve's points (short runs stay raw)."""
    return min(smooth, max(1, points // 20))


def plot_curve(ax, values, arm, n, smooth=1, **style):
    """One arm's mean curve (running mean of ``smooth`` points at most) with its min-max band when n > 1.

    Args:
        ax (Axes): the axis.
        values (pd.DataFrame): from :func:`curve`.
        arm (str): the arm (colour, line style, label).
        n (int): the arm's seeds (in the label).
        smooth (int): running-mean window, capped by :func:`window`.
        **style: line properties that replace the arm's (e.g. ``lw``, ``zorder``, ``marker``).
    """
    size = window(smooth, len(values))
    mean = values["mean"].rolling(size, min_periods=1, center=True).mean() if size > 1 else values["mean"]
    line = {"color": arm_color(arm), "ls": ARM_LINESTYLES[arm], "lw": 1.4, "ms": 3, **style}
    ax.plot(values["step"], mean, label=f"{ARM_LABELS[arm]} (n={n})", **line)
    if n > 1:
        ax.fill_between(values["step"], values["min"], values["max"], color=line["color"], alpha=0.15, lw=0)


def no_data(ax, text):
    """A grey message in the middle of an axis that has nothing to draw."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=8, color="0.4")


def save_figure(fig, stem):
    """Write ``{stem}.png`` and ``{stem}.pdf`` (at the report's dpi, :data:`analysis.style.RC_PARAMS`).

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


def work_order(stems, first=()):
    """The order in which workers take the figures: the stems named in ``first`` that exist, then the others (each
    once)."""
    return list(dict.fromkeys([stem for stem in first if stem in stems] + list(stems)))


def save_figures(makers, folder, jobs=None, first=()):
    """Build and write several figures (:func:`save_figure`), in parallel worker processes where the platform forks.

    Figures are independent and rendering them is most of a report's time; a forked worker inherits the data the
    makers close over, so nothing is pickled but the file names. The files are the same as a serial run writes.
    Workers take the figures one at a time, those named in ``first`` (the slowest) before the others: a slow figure
    taken last would keep one worker busy while the others idle.

    Args:
        makers (dict[str, Callable[[], Figure]]): file stem -> function building the figure.
        folder (str | Path): output folder.
        jobs (int, optional): worker processes; default: the CPUs this process may use (at most one per figure).
            1, or a platform without ``fork``: in this process.
        first (Sequence[str]): stems to start before the others (slowest first); only the order of work changes.

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
            order = work_order(makers, first)
            done = dict(zip(order, pool.map(_render, order, chunksize=1)))
        return [Path(p) for stem in makers for p in done[stem]]
    finally:
        _PENDING.clear()
