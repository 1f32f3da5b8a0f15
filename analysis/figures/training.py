"""Figures of what happens during training: the dynamic IoU threshold and beta, positives per image, the losses and
the validation AP per epoch."""

from matplotlib.ticker import MaxNLocator

from .. import references
from ..style import ARM_LABELS, ARMS, DLA_ARMS, DSL_ARMS
from .base import ITERATION_LABEL, MIN_MAX_BAND, curve, new_figure, no_data, plot_curve, styled, title_suffix

LOSS_KEYS = ("loss", "loss_cls", "loss_bbox", "loss_rpn_cls", "loss_rpn_bbox")
VAL_AP_KEY = "coco/bbox_mAP"

#: The R-CNN sampler of each dataset's configs (``train_cfg.rcnn.sampler``): RoIs per image, the positive fraction and
#: where that is set. The run records do not carry the sampler, so the cap drawn comes from here.
RCNN_SAMPLERS = {
    "synthetic": (64, 0.25, "configs/synthetic/_base_.py"),
    "coco": (512, 0.25, "mmdet dynamic-rcnn_r50_fpn_1x_coco.py"),
}

#: The scalar each panel of the dynamics figure draws, the arms in which it moves, and its start value's name.
DYNAMICS_PANELS = (
    ("dynrcnn/iou_thr", DLA_ARMS, "DLA", "threshold"),
    ("dynrcnn/beta", DSL_ARMS, "DSL", "β"),
)


def _dynamics_panel(ax, by_arm, key, moving, component, what):
    """One scalar of every arm; the arms without the component stay at their start value and coincide, so they are
    drawn thin on top with staggered markers. Returns the note that says so ("" when no two lines coincide)."""
    fixed = [a for a in ARMS if a not in moving and by_arm.get(a)]
    for arm in ARMS:
        values = curve(by_arm.get(arm, []), key)
        if values is None:
            continue
        if arm in fixed:
            every = max(1, len(values) // 8)
            start = fixed.index(arm) * every // max(1, len(fixed))
            # the baseline on top: the arm the others are compared with must not hide under one of them
            style = {"lw": 1.0, "zorder": 5 + len(fixed) - fixed.index(arm), "marker": "os"[fixed.index(arm) % 2]}
            plot_curve(ax, values, arm, len(by_arm[arm]), markevery=(start, every), **style)
        else:
            plot_curve(ax, values, arm, len(by_arm[arm]))
    if not ax.lines:
        no_data(ax, f"no run logged {key}")
    elif len(fixed) > 1:
        names = ", ".join(ARM_LABELS[a].split(" (")[0] for a in fixed)
        return (
            f"without {component} ({names}): {what} stays at its start value;\nthe lines coincide (staggered markers)"
        )
    return ""


def _author_trajectory(ax_iou, ax_beta, refs):
    """The author's reported COCO trajectory (issue #3) and final beta, with their status marks."""
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
    beta_end = references.find(refs, "trajectory", "dynamic_rcnn", "beta@end_1x")
    if beta_end:
        label = f"author: ~{beta_end.value:g} at the end of 1x {beta_end.mark}"
        ax_beta.axhline(beta_end.value, color="k", ls=":", lw=1, label=label)


@styled
def dynamics_figure(by_arm, dataset, refs=None):
    """IoU threshold and SmoothL1 beta in force against iteration, per arm (the paper's central figure).

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco`` (COCO adds the author's reported trajectory).
        refs (list[Reference], optional): reference numbers.

    Returns:
        Figure: two axes (IoU threshold, beta).
    """
    fig = new_figure((7, 5.4))
    axes = fig.subplots(2, 1, sharex=True)
    notes = [_dynamics_panel(ax, by_arm, *panel) for ax, panel in zip(axes, DYNAMICS_PANELS)]
    if dataset == "coco" and refs:
        _author_trajectory(*axes, refs)
    axes[0].set_ylabel("IoU threshold in force (IoU)")
    axes[1].set_ylabel("SmoothL1 β in force\n(encoded box-delta units)")
    axes[1].set_xlabel(ITERATION_LABEL)
    axes[0].set_title("Dynamic label assignment and dynamic SmoothL1" + title_suffix(dataset))
    for ax, text in zip(axes, notes):
        if ax.lines:
            title = f"{MIN_MAX_BAND}\n{text}" if text else MIN_MAX_BAND
            ax.legend(loc="best", title=title, title_fontsize=6.5, alignment="left")
    return fig


def sampler_cap(dataset):
    """The R-CNN sampler's cap on positives per image and a label naming its source.

    Args:
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        tuple[float, str] | None: ``num * pos_fraction`` and its legend label; None for an unknown dataset.
    """
    if dataset not in RCNN_SAMPLERS:
        return None
    num, fraction, source = RCNN_SAMPLERS[dataset]
    cap = num * fraction
    return cap, f"sampler cap: {num} RoIs × {fraction:g} positive\n= {cap:g} per image ({source})"


@styled
def positives_figure(by_arm, dataset):
    """Positive RoIs per image against iteration, per arm, with the R-CNN sampler's cap.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Figure: one axis; the cap is a horizontal line labelled ``sampler cap: ...``.
    """
    fig = new_figure((10, 3.4))
    ax = fig.subplots()
    for arm in ARMS:
        values = curve(by_arm.get(arm, []), "dynrcnn/pos_per_img")
        if values is not None:
            # the baseline (dotted) on top: without DLA, DSL only takes the same positives and would hide it
            plot_curve(ax, values, arm, len(by_arm[arm]), zorder=3 if arm == "baseline" else 2)
    if ax.lines:
        cap = sampler_cap(dataset)
        if cap is not None:
            ax.axhline(cap[0], color="k", ls="--", lw=1.0, label=cap[1])
        ax.set_ylim(bottom=0)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title=MIN_MAX_BAND, title_fontsize=6.5, fontsize=7)
    else:
        no_data(ax, "no run logged dynrcnn/pos_per_img")
    ax.set_xlabel(ITERATION_LABEL)
    ax.set_ylabel("positives per image (RoIs)")
    ax.set_title("Positive RoIs per image in the R-CNN head" + title_suffix(dataset))
    return fig


def validation_epochs(by_arm):
    """The most validation epochs any run logged (:data:`VAL_AP_KEY`); 0 when none."""
    counts = [int(r.val[VAL_AP_KEY].notna().sum()) for rs in by_arm.values() for r in rs if VAL_AP_KEY in r.val.columns]
    return max(counts, default=0)


#: Panels of the training-curves figure: (scalar, arms drawn, title). loss_bbox is split: the DSL arms train with
#: SmoothL1 at a moving beta, a different function whose values do not compare with a fixed-beta loss.
LOSS_PANELS = (
    ("loss", ARMS, "loss (total; its loss_bbox differs in the DSL arms)"),
    ("loss_cls", ARMS, "loss_cls"),
    ("loss_bbox", tuple(a for a in ARMS if a not in DSL_ARMS), "loss_bbox, SmoothL1 at fixed β"),
    ("loss_bbox", DSL_ARMS, "loss_bbox, SmoothL1 at moving β (DSL):\nnot comparable with fixed β"),
    ("loss_rpn_cls", ARMS, "loss_rpn_cls"),
    ("loss_rpn_bbox", ARMS, "loss_rpn_bbox"),
)


def _loss_panel(ax, by_arm, key, arms, title, smooth):
    for arm in arms:
        values = curve(by_arm.get(arm, []), key)
        if values is not None:
            plot_curve(ax, values, arm, len(by_arm[arm]), smooth=smooth)
    if not ax.lines:
        no_data(ax, f"no run logged {key}")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(ITERATION_LABEL)
    ax.set_ylabel("loss value (unitless)")


def _validation_panel(ax, by_arm):
    for arm in ARMS:
        values = curve(by_arm.get(arm, []), VAL_AP_KEY, split="val")
        if values is not None:
            values[["mean", "min", "max"]] *= 100
            plot_curve(ax, values, arm, len(by_arm[arm]), marker="o")
    ax.set_title("validation bbox AP per epoch", fontsize=8)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("bbox AP (%)")


@styled
def training_curves_figure(by_arm, dataset, smooth=10):
    """Training losses against iteration, and validation AP against epoch when the runs validate at more than one
    epoch (a single validation at the end is the final AP of the tables, not a curve).

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        dataset (str): ``synthetic`` or ``coco``.
        smooth (int): running-mean window over logged iterations for the losses.

    Returns:
        Figure: six loss axes (:data:`LOSS_PANELS`), then the validation-AP axis if any run validated twice or more.
    """
    with_val = validation_epochs(by_arm) > 1
    fig = new_figure((13, 6) if with_val else (11, 6))
    grid = fig.subplots(2, 4 if with_val else 3).ravel()
    for ax, panel in zip(grid, LOSS_PANELS):
        _loss_panel(ax, by_arm, *panel, smooth)
    if with_val:
        _validation_panel(grid[len(LOSS_PANELS)], by_arm)
        fig.delaxes(grid[-1])
    labels = {}
    for ax in fig.axes:
        labels.update(zip(*reversed(ax.get_legend_handles_labels())))
    order = [f"{ARM_LABELS[a]} (n={len(by_arm[a])})" for a in ARMS]
    labels = {k: labels[k] for k in order if k in labels}
    if labels:
        fig.legend(list(labels.values()), list(labels), loc="outside lower center", ncols=min(4, len(labels)))
    window = f"losses: running mean of ≤ {smooth} logged iterations; " if smooth > 1 else ""
    fig.suptitle(
        f"Training losses{' and validation AP' if with_val else ''}{title_suffix(dataset)}\n{window}{MIN_MAX_BAND}"
    )
    return fig
