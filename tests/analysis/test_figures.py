"""The figures render with the expected axes, series, labels and arm colours."""

import dataclasses

import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.image import imread
from scipy import stats

from analysis import figures
from analysis.figures.base import window, work_order
from analysis.references import load_references
from analysis.runs import load_runs
from analysis.style import ARM_COLORS, ARM_LABELS, ARMS
from analysis.tables import control_runs, default_runs
from tests.analysis import fake_runs
from tests.analysis.fake_runs import run_files

LEGEND = [
    f"{ARM_LABELS['baseline']} (n=3)",
    f"{ARM_LABELS['dla']} (n=3)",
    f"{ARM_LABELS['dsl']} (n=2)",
    f"{ARM_LABELS['dynamic_rcnn']} (n=1)",
]


@pytest.fixture(scope="module")
def by_arm(fixture_tree):
    return default_runs(load_runs(*run_files(fixture_tree["runs"])))


@pytest.fixture(scope="module")
def refs():
    return load_references()


def legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def line_colors(ax):
    return [mcolors.to_hex(line.get_color()) for line in ax.lines]


def test_dynamics_figure(by_arm, refs):
    fig = figures.dynamics_figure(by_arm, "synthetic", refs)
    ax_iou, ax_beta = fig.axes
    assert ax_iou.get_ylabel() == "IoU threshold in force (IoU)"
    assert ax_beta.get_ylabel().startswith("SmoothL1 β in force")
    assert ax_beta.get_xlabel() == "training iteration"
    for ax in (ax_iou, ax_beta):
        assert len(ax.lines) == 4 and legend_labels(ax) == LEGEND
        assert line_colors(ax) == [mcolors.to_hex(ARM_COLORS[a]) for a in ARMS]
    # baseline keeps 0.5 / 1.0; dynamic R-CNN changes both after the first update (fixture: C = 100)
    base_iou, dyn_iou = ax_iou.lines[0].get_ydata(), ax_iou.lines[3].get_ydata()
    assert np.all(base_iou == 0.5) and dyn_iou[-1] != 0.5
    assert np.all(ax_beta.lines[0].get_ydata() == 1.0) and ax_beta.lines[3].get_ydata()[-1] < 1.0
    assert list(ax_iou.lines[0].get_xdata()[:2]) == [10, 20]


def test_dynamics_figure_coco_adds_author_trajectory(fixture_tree, refs):
    fig = figures.dynamics_figure(default_runs(load_runs(*run_files(fixture_tree["runs_coco"]))), "coco", refs)
    ax_iou, ax_beta = fig.axes
    traj = [line for line in ax_iou.lines if "issue #3" in line.get_label()]
    assert len(traj) == 1 and traj[0].get_label().endswith("[v]")
    assert list(traj[0].get_xdata()) == [100, 200, 300, 400, 500]
    assert list(traj[0].get_ydata()) == [0.4208, 0.4913, 0.5167, 0.5330, 0.5379]
    assert any("[u]" in label for label in legend_labels(ax_beta))


def test_positives_figure(by_arm):
    fig = figures.positives_figure(by_arm, "synthetic")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training iteration", "positives per image (RoIs)")
    assert len(ax.lines) == 5 and legend_labels(ax)[:4] == LEGEND
    # mean over seeds: every fixture seed logs the same positives curve
    assert ax.lines[0].get_ydata()[0] == pytest.approx(40.0)
    # the sampler's cap of the synthetic configs: 64 RoIs x 0.25 = 16 per image, labelled as such
    cap = ax.lines[4]
    assert cap.get_label().startswith("sampler cap: 64 RoIs × 0.25 positive") and "configs/synthetic" in cap.get_label()
    assert list(cap.get_ydata()) == [16.0, 16.0]
    assert ax.lines[0].get_zorder() > max(line.get_zorder() for line in ax.lines[1:4])  # the baseline on top
    assert "band: min–max over seeds" in ax.get_legend().get_title().get_text()


def test_positives_figure_coco_cap():
    assert figures.training.sampler_cap("coco")[0] == 128.0


def test_ap_vs_iou_figure(by_arm):
    fig = figures.ap_vs_iou_figure(by_arm, "synthetic")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("IoU threshold of the AP (IoU)", "AP (%)")
    assert len(ax.containers) == 4 and legend_labels(ax) == LEGEND
    data = ax.containers[0].lines[0]
    assert np.allclose(np.asarray(data.get_xdata(), float), np.linspace(0.5, 0.95, 10))
    expected = 100 * (0.31 + 0.2 - 0.4 * (np.linspace(0.5, 0.95, 10) - 0.5))  # baseline mean level 0.31
    assert np.allclose(np.asarray(data.get_ydata(), float), expected)
    assert mcolors.to_hex(data.get_color()) == mcolors.to_hex(ARM_COLORS["baseline"])


def seed_lines(ax):
    return {line.get_label(): line for line in ax.lines if line.get_label().startswith("seed ")}


def test_ap_per_seed_figure_joins_each_seed_across_the_arms(by_arm):
    fig = figures.ap_per_seed_figure(by_arm, "synthetic")
    assert [ax.get_title() for ax in fig.axes] == ["AP", "AP50", "AP75"]
    assert fig.axes[0].get_ylabel() == "AP (%)"
    for ax, metric in zip(fig.axes, figures.SEED_METRICS):
        lines = seed_lines(ax)
        # fixture seeds: baseline and dla 0-2, dsl 0-1, dynamic_rcnn 0: one line per seed, NaN where a seed lacks an arm
        assert list(lines) == ["seed 0", "seed 1", "seed 2"]
        for seed, line in lines.items():
            expected = [
                next((100 * r.metrics[metric] for r in by_arm[a] if r.seed == int(seed[5:])), np.nan) for a in ARMS
            ]
            assert np.allclose(line.get_ydata(), expected, equal_nan=True)
        assert len({mcolors.to_hex(line.get_color()) for line in lines.values()}) == 3
        means = [line for line in ax.lines if line not in lines.values()]
        assert [line.get_ydata()[0] for line in means] == pytest.approx(
            [np.mean([100 * r.metrics[metric] for r in by_arm[a]]) for a in ARMS]
        )
    # the legend names every seed, so a reader sees which line is which
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "seed 0",
        "seed 1",
        "seed 2",
        "mean over the arm's seeds",
    ]
    assert "n=3" in fig._suptitle.get_text()


def test_ap_per_seed_figure_with_five_seeds_and_with_one(five_seeds, one_seed):
    fig = figures.ap_per_seed_figure(default_runs(five_seeds), "synthetic")
    assert list(seed_lines(fig.axes[0])) == [f"seed {s}" for s in range(5)]
    fig = figures.ap_per_seed_figure(default_runs(one_seed), "synthetic")
    (line,) = seed_lines(fig.axes[0]).values()
    assert np.allclose(line.get_ydata(), [100 * ONE_SEED[a] for a in ARMS])


def test_ap_per_seed_figure_without_runs():
    fig = figures.ap_per_seed_figure({}, "synthetic")
    assert len(fig.axes) == 3 and not fig.axes[0].lines


def test_ap_vs_iou_coco_marks_paper_points_unverified(fixture_tree, refs):
    fig = figures.ap_vs_iou_figure(default_runs(load_runs(*run_files(fixture_tree["runs_coco"]))), "coco", refs)
    paper = [label for label in legend_labels(fig.axes[0]) if label.startswith("paper")]
    assert paper == [f"paper, {ARM_LABELS['baseline']} [u]", f"paper, {ARM_LABELS['dynamic_rcnn']} [u]"]


def test_training_curves_figure(by_arm):
    fig = figures.training_curves_figure(by_arm, "synthetic", smooth=5)
    axes = fig.axes
    assert len(axes) == 7
    keys = ["loss", "loss_cls", "loss_bbox", "loss_bbox", "loss_rpn_cls", "loss_rpn_bbox"]
    assert [ax.get_title().split(" ")[0].rstrip(",") for ax in axes[:6]] == keys
    for ax, n_arms in zip(axes[:6], [4, 4, 2, 2, 4, 4]):
        assert ax.get_xlabel() == "training iteration" and len(ax.lines) == n_arms
    val = axes[6]
    assert (val.get_xlabel(), val.get_ylabel()) == ("epoch", "bbox AP (%)")
    assert len(val.lines) == 4
    # last epoch's validation AP of the baseline = mean of the seeds' levels, in percent
    assert val.lines[0].get_ydata()[-1] == pytest.approx(31.0)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == LEGEND
    assert "band: min–max over seeds" in fig._suptitle.get_text()


def test_sample_detections_figure(by_arm, fixture_tree):
    val_set = figures.load_val_set(fixture_tree["val_ann"], fixture_tree["val_images"])
    ids = val_set.sample_ids()
    assert ids == [1, 2, 3]
    epochs = figures.sample_epochs(by_arm)
    assert epochs == [1, 2]
    dets = figures.load_sample_detections(by_arm, ids, epochs)
    fig = figures.sample_detections_figure(by_arm, val_set, ids[0], epochs, dets, "synthetic", score_thr=0.0)
    assert len(fig.axes) == 4 * 2
    assert [ax.get_title() for ax in fig.axes[:2]] == ["epoch 1", "epoch 2"]
    assert fig.axes[0].get_ylabel().startswith("Baseline")
    n_gt = len(val_set.boxes[ids[0]])
    n_det = len(dets[("dla", 2)][ids[0]])
    dla_panel = fig.axes[1 * 2 + 1]
    gt, boxes = dla_panel.collections
    assert (gt.get_label(), len(gt.get_paths())) == ("ground truth", n_gt)
    assert (boxes.get_label(), len(boxes.get_paths())) == ("detections", n_det)
    # each box labelled with its class (the annotation file's category name) and score, highest score first
    top = sorted(dets[("dla", 2)][ids[0]], key=lambda d: -d["score"])
    assert [t.get_text() for t in dla_panel.texts] == [f"shape {d['score']:.2f}" for d in top]
    assert mcolors.to_hex(boxes.get_edgecolor()[0]) == mcolors.to_hex(ARM_COLORS["dla"])
    assert len(dla_panel.images) == 1


def test_sample_detections_score_threshold(by_arm, fixture_tree):
    val_set = figures.load_val_set(fixture_tree["val_ann"], fixture_tree["val_images"])
    ids = val_set.sample_ids()
    dets = figures.load_sample_detections(by_arm, ids, [1, 2])
    fig = figures.sample_detections_figure(by_arm, val_set, ids[0], [1, 2], dets, "synthetic", score_thr=1.01)
    assert all([len(c.get_paths()) for c in ax.collections] == [len(val_set.boxes[ids[0]]), 0] for ax in fig.axes)


def test_sample_ids_follow_annotation_file_order():
    images = {i: {"id": i, "file_name": f"{i}.png"} for i in (9, 4, 7, 2, 5)}
    val_set = figures.ValSet(images, {9: [[0, 0, 1, 1]], 7: [[0, 0, 1, 1]], 2: [[0, 0, 1, 1]], 5: [[0, 0, 1, 1]]})
    assert val_set.sample_ids() == [9, 7, 2]  # 4 has no ground truth


def test_sample_epochs_keep_first_and_last():
    class FakeRun:
        seed = 0
        detections = {e: None for e in range(1, 13)}

    assert figures.sample_epochs({"dla": [FakeRun()]}) == [1, 5, 8, 12]


def test_sample_detections_draws_the_highest_scores_only(by_arm, fixture_tree):
    val_set = figures.load_val_set(fixture_tree["val_ann"])  # no image folder: blank canvas
    image_id = val_set.sample_ids()[0]
    many = [{"image_id": image_id, "category_id": 7, "bbox": [1, 1, 5, 5], "score": s / 100} for s in range(100)]
    dets = {(arm, 1): {image_id: many} for arm in ARMS}
    fig = figures.sample_detections_figure(by_arm, val_set, image_id, [1], dets, "synthetic", score_thr=0.5)
    boxes = fig.axes[0].collections[1]
    assert figures.MAX_BOXES == 8 and len(boxes.get_paths()) == 8
    # a category the annotation file does not name is labelled with its id
    assert [t.get_text() for t in fig.axes[0].texts] == [f"class 7 {s / 100:.2f}" for s in range(99, 91, -1)]


def test_sample_detections_placeholder_without_ground_truth(by_arm):
    fig = figures.sample_detections_figure(by_arm, None, None, [1, 2], {}, "synthetic")
    assert "pass --val-ann" in fig.axes[0].texts[0].get_text()


def test_val_set_errors(tmp_path):
    with pytest.raises(figures.ReportInputError, match="--val-ann .*missing"):
        figures.load_val_set(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": []}')
    with pytest.raises(figures.ReportInputError, match="not a COCO annotation file"):
        figures.load_val_set(bad)


def test_save_figure_writes_png_and_pdf(by_arm, tmp_path):
    paths = figures.save_figure(figures.positives_figure(by_arm, "synthetic"), tmp_path / "figures" / "pos")
    assert [p.name for p in paths] == ["pos.png", "pos.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_save_figures_in_workers_writes_what_a_serial_run_writes(by_arm, tmp_path):
    makers = {
        "pos": lambda: figures.positives_figure(by_arm, "synthetic"),
        "seeds": lambda: figures.ap_per_seed_figure(by_arm, "synthetic"),
    }
    serial = figures.save_figures(makers, tmp_path / "serial", jobs=1)
    parallel = figures.save_figures(makers, tmp_path / "parallel", jobs=2)
    assert [p.name for p in parallel] == [p.name for p in serial] == ["pos.png", "pos.pdf", "seeds.png", "seeds.pdf"]
    for a, b in zip(serial, parallel):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_save_figures_started_slowest_first_returns_the_makers_order(by_arm, tmp_path):
    makers = {
        "pos": lambda: figures.positives_figure(by_arm, "synthetic"),
        "seeds": lambda: figures.ap_per_seed_figure(by_arm, "synthetic"),
        "iou": lambda: figures.ap_vs_iou_figure(by_arm, "synthetic"),
    }
    assert work_order(makers, ("iou", "absent")) == ["iou", "pos", "seeds"]
    assert work_order(makers) == ["pos", "seeds", "iou"]
    assert work_order(makers, ("seeds", "seeds", "iou")) == ["seeds", "iou", "pos"]
    serial = figures.save_figures(makers, tmp_path / "serial", jobs=1)
    parallel = figures.save_figures(makers, tmp_path / "parallel", jobs=2, first=("iou", "absent"))
    names = ["pos.png", "pos.pdf", "seeds.png", "seeds.pdf", "iou.png", "iou.pdf"]
    assert [p.name for p in parallel] == [p.name for p in serial] == names
    for a, b in zip(serial, parallel):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_save_figures_passes_a_worker_error_on(tmp_path):
    def broken():
        raise figures.ReportInputError("no val images")

    with pytest.raises(figures.ReportInputError, match="no val images"):
        figures.save_figures({"a": broken, "b": broken}, tmp_path, jobs=2)


def test_loss_smoothing_is_a_running_mean_capped_by_curve_length(by_arm):
    fig = figures.training_curves_figure(by_arm, "synthetic", smooth=10)
    raw = figures.curve(by_arm["baseline"], "loss")
    # the fixture logs 20 iterations: 5 % of them is one point, so the curve stays raw
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), raw["mean"])
    assert window(10, 200) == 10 and window(10, 100) == 5 and window(10, 2) == 1


# Five seeds with seed-to-seed noise that differs between arms (AP fractions), and six controls.
FIVE_SEEDS = {
    "baseline": [0.30, 0.32, 0.31, 0.29, 0.33],
    "dla": [0.32, 0.35, 0.32, 0.315, 0.35],
    "dsl": [0.31, 0.325, 0.32, 0.30, 0.34],
    "dynamic_rcnn": [0.335, 0.36, 0.34, 0.33, 0.37],
}
CONTROLS = ("beta0.5", "beta2.0", "l1", "iou0.4", "iou0.6", "static")
ONE_SEED = {"baseline": 0.30, "dla": 0.33, "dsl": 0.31, "dynamic_rcnn": 0.34}


def _write_controls(root, variants, seeds):
    for i, variant in enumerate(variants):
        control = fake_runs.fake_control(variant, (0.58, 0.5) if variant == "static" else None)
        for seed in seeds:
            level = 0.31 + 0.003 * i + 0.004 * seed + 0.002 * (seed % 2)
            fake_runs.write_run(root, "baseline", seed, level, variant=variant, control=control)


@pytest.fixture(scope="module")
def five_seeds(tmp_path_factory):
    """Runs of the four arms with 5 seeds each and 6 controls with 5 seeds each."""
    root = tmp_path_factory.mktemp("five_seeds") / "runs" / "synthetic"
    for arm, levels in FIVE_SEEDS.items():
        for seed, level in enumerate(levels):
            fake_runs.write_run(root, arm, seed, level)
    _write_controls(root, CONTROLS, range(5))
    return load_runs(*run_files(root))


@pytest.fixture(scope="module")
def one_seed(tmp_path_factory):
    """One seed per arm and two controls, trained for one epoch (validated once, at the end)."""
    root = tmp_path_factory.mktemp("one_seed") / "runs" / "synthetic"
    for arm, level in ONE_SEED.items():
        fake_runs.write_run(root, arm, 0, level, epochs=1)
    _write_controls(root, ("beta0.5", "static"), [0])
    return load_runs(*run_files(root))


def errorbar_interval(container):
    """(y, lo, hi) of an errorbar container, per x."""
    y = np.asarray(container.lines[0].get_ydata(), float)
    (bars,) = container.lines[2]
    lo, hi = np.array([[seg[0][1], seg[1][1]] for seg in bars.get_segments()]).T
    return y, lo, hi


def paired_t(a_levels, b_levels, level=0.95):
    """Mean and Student t interval of the per-seed differences (AP points), computed here with scipy."""
    diffs = 100 * (np.asarray(a_levels) - np.asarray(b_levels))
    half = stats.t.ppf(0.5 + level / 2, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(len(diffs))
    return diffs.mean(), diffs.mean() - half, diffs.mean() + half


def test_gain_vs_iou_five_seeds_without_controls(five_seeds):
    fig = figures.gain_vs_iou_figure(default_runs(five_seeds), "synthetic")
    (ax,) = fig.axes
    assert ax.get_ylabel() == "arm − baseline (AP points)" and ax.get_xlabel() == "IoU threshold of the AP (IoU)"
    assert legend_labels(ax) == [f"{ARM_LABELS[a]} (n=5)" for a in ARMS[1:]]
    for arm, container in zip(ARMS[1:], ax.containers):
        y, lo, hi = errorbar_interval(container)
        # every AP@IoU is the level plus a fixed offset: the paired difference is the levels' at each threshold
        mean, low, high = paired_t(FIVE_SEEDS[arm], FIVE_SEEDS["baseline"])
        assert np.allclose(y, mean) and np.allclose(lo, low) and np.allclose(hi, high)
        assert len(y) == 10
    title = ax.get_legend().get_title().get_text()
    assert "95 % CI of the paired mean difference (Student t, n − 1 df)" in title and "n = 5 seeds" in title
    assert not [p for p in ax.patches if "untestable" in p.get_label()]


def test_gain_vs_iou_with_controls_against_dynamic_rcnn(five_seeds):
    by_arm, controls = default_runs(five_seeds), control_runs(five_seeds)
    fig = figures.gain_vs_iou_figure(by_arm, "synthetic", controls=controls)
    arms_ax, loss_ax, assign_ax = fig.axes
    assert all(len(ax.containers) <= figures.MAX_LINES for ax in fig.axes)
    assert legend_labels(loss_ax) == ["Baseline, β 0.5 (n=5)", "Baseline, β 2 (n=5)", "Baseline, L1 loss (n=5)"]
    assert [t.split(" (n=")[0] for t in legend_labels(assign_ax)] == [
        "Baseline, IoU thr. 0.4",
        "Baseline, IoU thr. 0.6",
        "Baseline, static endpoint",
    ]
    static = {r.seed: r.metrics["AP"] for r in controls["static"]}
    full = {r.seed: r.metrics["AP"] for r in by_arm["dynamic_rcnn"]}
    y, lo, hi = errorbar_interval(assign_ax.containers[2])
    mean, low, high = paired_t([static[s] for s in range(5)], [full[s] for s in range(5)])
    assert np.allclose(y, mean) and np.allclose(lo, low) and np.allclose(hi, high)
    assert "Dynamic R-CNN" in loss_ax.get_ylabel() and "Student t" in loss_ax.get_legend().get_title().get_text()


def test_gain_vs_iou_splits_many_controls_into_panels_of_at_most_max_lines():
    controls = {f"beta{b:.1f}": ["run"] for b in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)} | {"l1": ["run"], "iou0.6": ["run"]}
    panels = figures.accuracy.control_panels(controls)
    assert panels == [["beta0.1", "beta0.2", "beta0.3", "beta0.4"], ["beta0.5", "beta0.6", "l1"], ["iou0.6"]]


def test_gain_vs_iou_with_one_seed_draws_no_interval(one_seed):
    fig = figures.gain_vs_iou_figure(default_runs(one_seed), "synthetic", controls=control_runs(one_seed))
    assert len(fig.axes) == 3  # the arms, the box-loss control (β 0.5), the assignment control (static endpoint)
    for ax in fig.axes:
        assert ax.containers and not any(c.has_yerr for c in ax.containers)
        assert "n = 1: no interval" in ax.get_legend().get_title().get_text()
    y = np.asarray(fig.axes[0].containers[2].lines[0].get_ydata(), float)
    assert np.allclose(y, 100 * (ONE_SEED["dynamic_rcnn"] - ONE_SEED["baseline"]))
    # without controls: the arms' panel only
    (ax,) = figures.gain_vs_iou_figure(default_runs(one_seed), "synthetic").axes
    assert legend_labels(ax) == [f"{ARM_LABELS[a]} (n=1)" for a in ARMS[1:]]


def test_gain_vs_iou_marks_the_floor_as_untestable(five_seeds):
    by_arm = default_runs(five_seeds)
    at_floor = {"AP@0.90": 0.015, "AP@0.95": 0.005}  # 1.5 and 0.5 AP points
    by_arm["baseline"] = [dataclasses.replace(r, metrics={**r.metrics, **at_floor}) for r in by_arm["baseline"]]
    (ax,) = figures.gain_vs_iou_figure(by_arm, "synthetic").axes
    spans = [p for p in ax.patches if p.get_hatch()]
    assert [round(p.get_x() + p.get_width() / 2, 2) for p in spans] == [0.9, 0.95]
    assert "baseline AP < 2 points: untestable" in legend_labels(ax)


def test_training_curves_validation_panel_only_when_validated_more_than_once(by_arm, one_seed):
    titles = [ax.get_title() for ax in figures.training_curves_figure(by_arm, "synthetic").axes]
    assert "validation bbox AP per epoch" in titles and len(titles) == 7  # the fixture validates at epochs 1 and 2
    fig = figures.training_curves_figure(default_runs(one_seed), "synthetic")
    assert len(fig.axes) == 6 and all("validation" not in ax.get_title() for ax in fig.axes)
    assert "validation" not in fig._suptitle.get_text()


def test_training_curves_keep_the_dsl_arms_loss_bbox_apart(by_arm):
    fig = figures.training_curves_figure(by_arm, "synthetic")
    fixed_beta, moving_beta = fig.axes[2], fig.axes[3]
    assert fixed_beta.get_title().startswith("loss_bbox") and moving_beta.get_title().startswith("loss_bbox")
    assert [line.get_label().split(" (n=")[0] for line in fixed_beta.lines] == [
        ARM_LABELS["baseline"],
        ARM_LABELS["dla"],
    ]
    assert [line.get_label().split(" (n=")[0] for line in moving_beta.lines] == [
        ARM_LABELS["dsl"],
        ARM_LABELS["dynamic_rcnn"],
    ]
    assert "not comparable" in moving_beta.get_title()


def test_dynamics_figure_keeps_the_baseline_visible(by_arm):
    ax_iou, ax_beta = figures.dynamics_figure(by_arm, "synthetic").axes
    # without DLA the threshold stays at 0.5 in the baseline and DSL only: the baseline is drawn on top, the markers
    # of the two lines are staggered, and a note says that they coincide
    base, dsl = ax_iou.lines[0], ax_iou.lines[2]
    assert base.get_zorder() > dsl.get_zorder() and base.get_markevery() != dsl.get_markevery()
    iou_note, beta_note = (ax.get_legend().get_title().get_text() for ax in (ax_iou, ax_beta))
    assert "without DLA (Baseline, + DSL only)" in iou_note and "coincide" in iou_note
    assert "without DSL (Baseline, + DLA only)" in beta_note


@pytest.mark.parametrize(
    "make",
    [
        lambda by_arm: figures.positives_figure(by_arm, "synthetic"),
        lambda by_arm: figures.ap_per_seed_figure(by_arm, "synthetic"),
        lambda by_arm: figures.gain_vs_iou_figure(by_arm, "synthetic"),
    ],
)
def test_figures_are_saved_at_150_dpi(by_arm, tmp_path, make):
    fig = make(by_arm)
    width, height = fig.get_size_inches()
    png, _ = figures.save_figure(fig, tmp_path / "fig")
    assert imread(png).shape[:2] == (round(150 * height), round(150 * width))


def test_gain_vs_iou_falls_back_to_welch_where_the_seed_sets_differ(by_arm):
    # fixture: the baseline has seeds 0-2, DSL only 0-1 (Welch), Dynamic R-CNN seed 0 only (no interval)
    (ax,) = figures.gain_vs_iou_figure(by_arm, "synthetic").axes
    assert legend_labels(ax) == [
        f"{ARM_LABELS['dla']} (n=3)",
        f"{ARM_LABELS['dsl']} (n=2 vs 3, Welch t)",
        f"{ARM_LABELS['dynamic_rcnn']} (n=1)",
    ]
    y, lo, hi = errorbar_interval(ax.containers[1])
    dsl, base = ([100 * r.metrics["AP@0.50"] for r in by_arm[a]] for a in ("dsl", "baseline"))
    welch = stats.ttest_ind(dsl, base, equal_var=False).confidence_interval(0.95)
    assert y[0] == pytest.approx(np.mean(dsl) - np.mean(base))
    assert (lo[0], hi[0]) == pytest.approx((welch.low, welch.high))
    assert not ax.containers[2].has_yerr
    title = ax.get_legend().get_title().get_text()
    assert "Welch t (own df) where the seed sets differ" in title and "n = 1: no interval" in title
