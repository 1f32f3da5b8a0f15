"""Figures of the final accuracy: AP against the IoU threshold, every seed's AP across the arms, and the paired gain
over the baseline (and each control against Dynamic R-CNN) against the IoU threshold."""

import math

import numpy as np

from dynrcnn.run_record import IOU_KEYS, STATIC_SOURCE_ARM, parse_control

from .. import references
from ..comparisons import paired_difference
from ..style import (
    ARM_LABELS,
    ARM_LINESTYLES,
    ARMS,
    CONTROL_COLORS,
    CONTROL_MARKERS,
    SEED_COLORS,
    SEED_MARKERS,
    arm_color,
    control_label,
)
from ..summary import FLOOR
from .base import new_figure, no_data, styled, title_suffix

#: AP (points) below which a metric is at its floor: a gain there cannot be measured (the verdict page's floor).
AP_FLOOR = FLOOR
#: Most lines in one panel of the gain figure; more controls are split over further panels.
MAX_LINES = 4
#: How the gain figure's panel titles name each kind of control.
CONTROL_KIND_NAMES = {"beta": "fixed β", "l1": "L1 loss", "iou": "fixed IoU threshold", "static": "static endpoint"}
#: Metrics of the per-seed figure, one panel each.
SEED_METRICS = ("AP", "AP50", "AP75")
IOU_LABEL = "IoU threshold of the AP (IoU)"
THRESHOLDS = [float(k) for k in IOU_KEYS]


def percent_by_seed(runs, metric):
    """``{seed: 100 * metric}`` of some runs (AP points), NaN values left out."""
    values = {r.seed: 100 * r.metrics[metric] for r in runs}
    return {s: v for s, v in values.items() if not math.isnan(v)}


def _paper_points(ax, refs):
    """The paper's COCO AP50 ... AP90 per arm (open diamonds), with the worst status of the points."""
    for arm in ARMS:
        pts = [
            (int(m[2:]) / 100, references.find(refs, "ablation", arm, m, source_key="paper"))
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
                label=f"paper, {ARM_LABELS[arm]} {references.STATUS_MARKS[worst]}",
            )


@styled
def ap_vs_iou_figure(by_arm, dataset, refs=None):
    """AP at each IoU threshold 0.50 ... 0.95 per arm (mean ± sample std over seeds); the controls are in
    :func:`gain_vs_iou_figure`, so that this figure holds the four arms only.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco`` (COCO adds the paper's AP50 ... AP90 points).
        refs (list[Reference], optional): reference numbers.

    Returns:
        Figure: one axis, one error-bar line per arm with runs.
    """
    fig = new_figure((6, 4.2))
    ax = fig.subplots()
    for arm in ARMS:
        rs = by_arm.get(arm, [])
        if not rs:
            continue
        values = np.array([[100 * r.metrics[f"AP@{k}"] for k in IOU_KEYS] for r in rs])
        ax.errorbar(
            THRESHOLDS,
            values.mean(axis=0),
            yerr=values.std(axis=0, ddof=1) if len(rs) > 1 else None,
            color=arm_color(arm),
            ls=ARM_LINESTYLES[arm],
            marker="o",
            ms=3,
            lw=1.4,
            capsize=2,
            label=f"{ARM_LABELS[arm]} (n={len(rs)})",
        )
    if dataset == "coco" and refs:
        _paper_points(ax, refs)
    if ax.lines:
        ax.legend(loc="upper right", title="line: mean over seeds; bar: ± sample SD", title_fontsize=6.5)
    else:
        no_data(ax, "no runs")
    ax.set_xlabel(IOU_LABEL)
    ax.set_ylabel("AP (%)")
    ax.set_xticks(THRESHOLDS)
    ax.set_title("AP against IoU threshold" + title_suffix(dataset))
    return fig


def _seed_panel(ax, by_arm, arms, metric, seeds):
    """One line per seed joining its values across the arms (a gap where a seed lacks an arm), and each arm's mean
    over its seeds as a black bar."""
    for i, seed in enumerate(seeds):
        values = [percent_by_seed(by_arm[a], metric).get(seed, math.nan) for a in arms]
        ax.plot(
            range(len(arms)),
            values,
            color=SEED_COLORS[i % len(SEED_COLORS)],
            marker=SEED_MARKERS[i % len(SEED_MARKERS)],
            ms=4,
            lw=1.0,
            label=f"seed {seed}",
        )
    for x, arm in enumerate(arms):
        values = list(percent_by_seed(by_arm[arm], metric).values())
        if values:
            label = "mean over the arm's seeds" if x == 0 else None
            ax.plot([x - 0.25, x + 0.25], [np.mean(values)] * 2, color="k", lw=2.4, zorder=5, label=label)
    ax.set_title(metric)
    ax.set_xticks(range(len(arms)), [ARM_LABELS[a].split(" (")[0] for a in arms], rotation=30, ha="right")
    ax.set_xlim(-0.5, len(arms) - 0.5)


@styled
def ap_per_seed_figure(by_arm, dataset):
    """Every seed's AP, AP50 and AP75 as a line across the arms, with each arm's mean: a seed fixes the initial
    weights and the data order in every arm, so parallel lines show a gain that every seed sees.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Figure: one axis per metric of :data:`SEED_METRICS`; in each one line per seed (label ``seed {s}``, y NaN
        where the seed lacks an arm) and one black bar per arm (the mean).
    """
    arms = [a for a in ARMS if by_arm.get(a)]
    seeds = sorted({r.seed for a in arms for r in by_arm[a]})
    fig = new_figure((2.6 * len(SEED_METRICS) + 1.6, 3.8))
    axes = fig.subplots(1, len(SEED_METRICS), squeeze=False)[0]
    for ax, metric in zip(axes, SEED_METRICS):
        if arms:
            _seed_panel(ax, by_arm, arms, metric, seeds)
        else:
            ax.set_title(metric)
            no_data(ax, "no runs")
    axes[0].set_ylabel("AP (%)")
    if arms:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    ns = ", ".join(f"{ARM_LABELS[a].split(' (')[0]} n={len(by_arm[a])}" for a in arms)
    fig.suptitle(f"AP per seed: each line one seed across the arms, bar the mean{title_suffix(dataset)}\n{ns}")
    return fig


def iou_differences(a_runs, b_runs):
    """Paired difference a - b (AP points) at each IoU threshold of :data:`IOU_KEYS`.

    Returns:
        list[Difference]: one per threshold (:func:`analysis.comparisons.paired_difference`).
    """
    return [paired_difference(percent_by_seed(a_runs, f"AP@{k}"), percent_by_seed(b_runs, f"AP@{k}")) for k in IOU_KEYS]


def floor_thresholds(runs):
    """The IoU thresholds at which the mean AP of ``runs`` is below :data:`AP_FLOOR` points (no gain measurable)."""
    out = []
    for t, k in zip(THRESHOLDS, IOU_KEYS):
        values = list(percent_by_seed(runs, f"AP@{k}").values())
        if values and np.mean(values) < AP_FLOOR:
            out.append(t)
    return out


def interval_note(differences):
    """What the bars of a gain panel are, from the tests the differences used (written in the figure)."""
    tests = {d.test for d in differences}
    ns = sorted({d.n for d in differences if d.has_interval})
    parts = []
    if "paired t" in tests:
        level = round(100 * differences[0].level)
        parts.append(f"bars: {level} % CI of the paired mean difference (Student t, n − 1 df), per IoU, unadjusted")
    if "Welch t" in tests:
        parts.append("Welch t (own df) where the seed sets differ")
    if ns:
        parts.append(f"n = {', '.join(map(str, ns))} seeds (each line's n in its label)")
    if any(d.test.startswith("none") and d.n == 1 for d in differences):
        parts.append("n = 1: no interval")
    return "\n".join(parts) if parts else "no runs to compare"


def seeds_label(differences):
    """How a line's differences were taken, for its legend label: ``n=5``, ``n=2 vs 3, Welch t`` or ``n=1``."""
    d = max(differences, key=lambda d: d.n)
    return f"n={d.n_a} vs {d.n_b}, Welch t" if d.test == "Welch t" else f"n={d.n}"


def _gain_lines(ax, lines):
    """Draw ``[(label, colour, line style, marker, list[Difference])]``, dodged sideways so bars stay apart."""
    offsets = np.linspace(-0.008, 0.008, len(lines)) if len(lines) > 1 else [0.0]
    for (label, color, ls, marker, diffs), dx in zip(lines, offsets):
        means = np.array([d.mean for d in diffs])
        err = np.array([[d.mean - d.lo, d.hi - d.mean] for d in diffs]).T
        ax.errorbar(
            np.array(THRESHOLDS) + dx,
            means,
            yerr=None if np.isnan(err).all() else err,
            color=color,
            ls=ls,
            marker=marker,
            ms=3.5,
            lw=1.3,
            capsize=2,
            label=f"{label} ({seeds_label(diffs)})",
        )
    ax.axhline(0, color="k", lw=0.8)
    return interval_note([d for *_, diffs in lines for d in diffs])


def _mark_floor(ax, floor, who):
    for i, t in enumerate(floor):
        label = f"{who} AP < {AP_FLOOR:g} points: untestable" if i == 0 else None
        ax.axvspan(t - 0.022, t + 0.022, color="0.85", hatch="//", ec="0.6", lw=0, zorder=0, label=label)


def _paper_gains(ax, refs):
    """The paper's COCO gain of each arm over the baseline at AP50 ... AP90 (open diamonds)."""
    for arm in ARMS[1:]:
        pts = []
        for m in ("AP50", "AP60", "AP70", "AP80", "AP90"):
            a, b = (references.find(refs, "ablation", x, m, source_key="paper") for x in (arm, "baseline"))
            if a is not None and b is not None:
                pts.append((int(m[2:]) / 100, a.value - b.value, {a.status, b.status}))
        if pts:
            statuses = set().union(*(s for *_, s in pts))
            # a difference of two verified numbers is derived
            worst = "unverified" if "unverified" in statuses else "derived"
            x, y = [p[0] for p in pts], [p[1] for p in pts]
            mark = references.STATUS_MARKS[worst]
            label = f"paper, {ARM_LABELS[arm]} {mark}"
            ax.plot(x, y, ls="none", marker="D", mfc="none", color=arm_color(arm), label=label)


def control_panels(controls):
    """Controls grouped for the gain figure: the box-loss controls (fixed β, L1), then the assignment controls
    (fixed IoU threshold, static endpoint), each group cut into panels of at most :data:`MAX_LINES`.

    Returns:
        list[list[str]]: variants per panel.
    """
    loss = [v for v, rs in controls.items() if rs and parse_control(v)["kind"] in ("beta", "l1")]
    assign = [v for v, rs in controls.items() if rs and parse_control(v)["kind"] in ("iou", "static")]
    return [g[i : i + MAX_LINES] for g in (loss, assign) for i in range(0, len(g), MAX_LINES)]


@styled
def gain_vs_iou_figure(by_arm, dataset, refs=None, controls=None):
    """Gain of each arm over the baseline against the IoU threshold of the AP, with paired intervals; with control
    runs, further panels of each control against Dynamic R-CNN (at most :data:`MAX_LINES` lines a panel).

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco`` (COCO adds the paper's gains).
        refs (list[Reference], optional): reference numbers.
        controls (dict[str, list[Run]], optional): control runs per variant, in control order.

    Returns:
        Figure: the arms' axis, then one axis per group of :func:`control_panels`; thresholds where the baseline's
        mean AP is below :data:`AP_FLOOR` are hatched.
    """
    # the controls are compared with Dynamic R-CNN: without its runs there is nothing to draw
    groups = control_panels(controls or {}) if by_arm.get(STATIC_SOURCE_ARM) else []
    fig = new_figure((7, 3.6 * (1 + len(groups))))
    axes = fig.subplots(1 + len(groups), 1, sharex=True, squeeze=False)[:, 0]
    base, full = by_arm.get("baseline", []), by_arm.get(STATIC_SOURCE_ARM, [])
    floor = floor_thresholds(base)
    arms = [
        (ARM_LABELS[a], arm_color(a), ARM_LINESTYLES[a], "o", iou_differences(by_arm[a], base))
        for a in ARMS[1:]
        if by_arm.get(a) and base
    ]
    notes = [_gain_lines(axes[0], arms) if arms else no_data(axes[0], "no runs of the baseline and another arm")]
    axes[0].set_ylabel("arm − baseline (AP points)")
    axes[0].set_title("Gain over the baseline against IoU threshold" + title_suffix(dataset))
    if dataset == "coco" and refs:
        _paper_gains(axes[0], refs)
    for ax, group in zip(axes[1:], groups):
        lines = [
            (control_label(v), CONTROL_COLORS[i % len(CONTROL_COLORS)], "-", CONTROL_MARKERS[i % len(CONTROL_MARKERS)])
            + (iou_differences(controls[v], full),)
            for i, v in enumerate(group)
        ]
        notes.append(_gain_lines(ax, lines))
        ax.set_ylabel(f"control − {ARM_LABELS[STATIC_SOURCE_ARM].split(' (')[0]}\n(AP points)")
        kinds = " and ".join(dict.fromkeys(CONTROL_KIND_NAMES[parse_control(v)["kind"]] for v in group))
        ax.set_title(f"Controls against Dynamic R-CNN: the baseline with {kinds}", fontsize=9)
    for ax, text in zip(axes, notes):
        _mark_floor(ax, floor, "baseline")
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best", fontsize=7, title=text, title_fontsize=6.5, alignment="left")
    axes[-1].set_xlabel(IOU_LABEL)
    axes[-1].set_xticks(THRESHOLDS)
    return fig
