"""The figures render with the expected axes, series, labels and arm colours."""

import matplotlib.colors as mcolors
import numpy as np
import pytest

from analysis import figures as F
from analysis.references import load_references
from analysis.runs import load_runs
from analysis.style import ARM_COLORS, ARM_LABELS, ARMS
from analysis.tables import default_runs
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
    fig = F.dynamics_figure(by_arm, "synthetic", refs)
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
    fig = F.dynamics_figure(default_runs(load_runs(*run_files(fixture_tree["runs_coco"]))), "coco", refs)
    ax_iou, ax_beta = fig.axes
    traj = [line for line in ax_iou.lines if "issue #3" in line.get_label()]
    assert len(traj) == 1 and traj[0].get_label().endswith("[u]")
    assert list(traj[0].get_xdata()) == [100, 200, 300, 400, 500]
    assert list(traj[0].get_ydata()) == [0.4208, 0.4913, 0.5167, 0.5330, 0.5378]
    assert any("[u]" in label for label in legend_labels(ax_beta))


def test_positives_figure(by_arm):
    fig = F.positives_figure(by_arm, "synthetic")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training iteration", "positives per image (RoIs)")
    assert len(ax.lines) == 4 and legend_labels(ax) == LEGEND
    # mean over seeds: every fixture seed logs the same positives curve
    assert ax.lines[0].get_ydata()[0] == pytest.approx(40.0)


def test_ap_vs_iou_figure(by_arm):
    fig = F.ap_vs_iou_figure(by_arm, "synthetic")
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("IoU threshold of the AP (IoU)", "AP (%)")
    assert len(ax.containers) == 4 and legend_labels(ax) == LEGEND
    data = ax.containers[0].lines[0]
    assert np.allclose(np.asarray(data.get_xdata(), float), np.linspace(0.5, 0.95, 10))
    expected = 100 * (0.31 + 0.2 - 0.4 * (np.linspace(0.5, 0.95, 10) - 0.5))  # baseline mean level 0.31
    assert np.allclose(np.asarray(data.get_ydata(), float), expected)
    assert mcolors.to_hex(data.get_color()) == mcolors.to_hex(ARM_COLORS["baseline"])


def test_ap_per_seed_figure(by_arm):
    fig = F.ap_per_seed_figure(by_arm, "synthetic")
    assert [ax.get_title() for ax in fig.axes] == ["AP50", "AP60", "AP70", "AP80", "AP90"]
    assert fig.axes[0].get_ylabel() == "AP (%)"
    for ax, key in zip(fig.axes, F.SEED_FIGURE_IOUS):
        seeds = [line for line in ax.lines if line.get_label() == "seeds"]
        means = [line for line in ax.lines if line.get_label() == "mean"]
        # one point per run (fixture: 3, 3, 2, 1 seeds) and one mean per arm, in the arm's colour
        assert [len(line.get_ydata()) for line in seeds] == [3, 3, 2, 1]
        assert [mcolors.to_hex(line.get_color()) for line in means] == [mcolors.to_hex(ARM_COLORS[a]) for a in ARMS]
        for arm, pts, mean in zip(ARMS, seeds, means):
            expected = sorted(100 * r.metrics[f"AP@{key}"] for r in by_arm[arm])
            assert sorted(pts.get_ydata()) == pytest.approx(expected)
            assert mean.get_ydata()[0] == pytest.approx(np.mean(expected))
    # the baseline's seeds differ (fixture levels 0.30, 0.31, 0.32): the spread is drawn, not only the mean
    baseline = [line for line in fig.axes[0].lines if line.get_label() == "seeds"][0]
    assert np.ptp(baseline.get_ydata()) == pytest.approx(2.0)
    assert "n=3" in fig._suptitle.get_text()


def test_ap_per_seed_figure_without_runs():
    fig = F.ap_per_seed_figure({}, "synthetic")
    assert len(fig.axes) == 5 and not fig.axes[0].lines


def test_ap_vs_iou_coco_marks_paper_points_unverified(fixture_tree, refs):
    fig = F.ap_vs_iou_figure(default_runs(load_runs(*run_files(fixture_tree["runs_coco"]))), "coco", refs)
    paper = [label for label in legend_labels(fig.axes[0]) if label.startswith("paper")]
    assert paper == [f"paper, {ARM_LABELS['baseline']} [u]", f"paper, {ARM_LABELS['dynamic_rcnn']} [u]"]


def test_training_curves_figure(by_arm):
    fig = F.training_curves_figure(by_arm, "synthetic", smooth=5)
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title().split(" ")[0] for ax in axes[:5]] == list(F.LOSS_KEYS)
    for ax in axes[:5]:
        assert ax.get_xlabel() == "training iteration" and len(ax.lines) == 4
    val = axes[5]
    assert (val.get_xlabel(), val.get_ylabel()) == ("epoch", "bbox AP (%)")
    assert len(val.lines) == 4
    # last epoch's validation AP of the baseline = mean of the seeds' levels, in percent
    assert val.lines[0].get_ydata()[-1] == pytest.approx(31.0)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == LEGEND


def test_sample_detections_figure(by_arm, fixture_tree):
    val_set = F.load_val_set(fixture_tree["val_ann"], fixture_tree["val_images"])
    ids = val_set.sample_ids()
    assert ids == [1, 2, 3]
    epochs = F.sample_epochs(by_arm)
    assert epochs == [1, 2]
    dets = F.load_sample_detections(by_arm, ids, epochs)
    fig = F.sample_detections_figure(by_arm, val_set, ids[0], epochs, dets, "synthetic", score_thr=0.0)
    assert len(fig.axes) == 4 * 2
    assert [ax.get_title() for ax in fig.axes[:2]] == ["epoch 1", "epoch 2"]
    assert fig.axes[0].get_ylabel().startswith("Baseline")
    n_gt = len(val_set.boxes[ids[0]])
    n_det = len(dets[("dla", 2)][ids[0]])
    dla_panel = fig.axes[1 * 2 + 1]
    gt, boxes = dla_panel.collections
    assert (gt.get_label(), len(gt.get_paths())) == ("ground truth", n_gt)
    assert (boxes.get_label(), len(boxes.get_paths())) == ("dla detections", n_det)
    assert mcolors.to_hex(boxes.get_edgecolor()[0]) == mcolors.to_hex(ARM_COLORS["dla"])
    assert len(dla_panel.images) == 1


def test_sample_detections_score_threshold(by_arm, fixture_tree):
    val_set = F.load_val_set(fixture_tree["val_ann"], fixture_tree["val_images"])
    ids = val_set.sample_ids()
    dets = F.load_sample_detections(by_arm, ids, [1, 2])
    fig = F.sample_detections_figure(by_arm, val_set, ids[0], [1, 2], dets, "synthetic", score_thr=1.01)
    assert all([len(c.get_paths()) for c in ax.collections] == [len(val_set.boxes[ids[0]]), 0] for ax in fig.axes)


def test_sample_ids_follow_annotation_file_order():
    images = {i: {"id": i, "file_name": f"{i}.png"} for i in (9, 4, 7, 2, 5)}
    val_set = F.ValSet(images, {9: [[0, 0, 1, 1]], 7: [[0, 0, 1, 1]], 2: [[0, 0, 1, 1]], 5: [[0, 0, 1, 1]]})
    assert val_set.sample_ids() == [9, 7, 2]  # 4 has no ground truth


def test_sample_epochs_keep_first_and_last():
    class FakeRun:
        seed = 0
        detections = {e: None for e in range(1, 13)}

    assert F.sample_epochs({"dla": [FakeRun()]}) == [1, 3, 5, 8, 10, 12]


def test_sample_detections_draws_the_highest_scores_only(by_arm, fixture_tree):
    val_set = F.load_val_set(fixture_tree["val_ann"])  # no image folder: blank canvas
    image_id = val_set.sample_ids()[0]
    many = [{"image_id": image_id, "bbox": [1, 1, 5, 5], "score": s / 100} for s in range(100)]
    dets = {(arm, 1): {image_id: many} for arm in ARMS}
    fig = F.sample_detections_figure(by_arm, val_set, image_id, [1], dets, "synthetic", score_thr=0.5)
    boxes = fig.axes[0].collections[1]
    assert len(boxes.get_paths()) == F.MAX_BOXES


def test_sample_detections_placeholder_without_ground_truth(by_arm):
    fig = F.sample_detections_figure(by_arm, None, None, [1, 2], {}, "synthetic")
    assert "pass --val-ann" in fig.axes[0].texts[0].get_text()


def test_val_set_errors(tmp_path):
    with pytest.raises(F.ReportInputError, match="--val-ann .*missing"):
        F.load_val_set(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": []}')
    with pytest.raises(F.ReportInputError, match="not a COCO annotation file"):
        F.load_val_set(bad)


def test_save_figure_writes_png_and_pdf(by_arm, tmp_path):
    paths = F.save_figure(F.positives_figure(by_arm, "synthetic"), tmp_path / "figures" / "pos")
    assert [p.name for p in paths] == ["pos.png", "pos.pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_save_figures_in_workers_writes_what_a_serial_run_writes(by_arm, tmp_path):
    makers = {
        "pos": lambda: F.positives_figure(by_arm, "synthetic"),
        "seeds": lambda: F.ap_per_seed_figure(by_arm, "synthetic"),
    }
    serial = F.save_figures(makers, tmp_path / "serial", jobs=1)
    parallel = F.save_figures(makers, tmp_path / "parallel", jobs=2)
    assert [p.name for p in parallel] == [p.name for p in serial] == ["pos.png", "pos.pdf", "seeds.png", "seeds.pdf"]
    for a, b in zip(serial, parallel):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_save_figures_passes_a_worker_error_on(tmp_path):
    def broken():
        raise F.ReportInputError("no val images")

    with pytest.raises(F.ReportInputError, match="no val images"):
        F.save_figures({"a": broken, "b": broken}, tmp_path, jobs=2)


def test_loss_smoothing_is_a_running_mean_capped_by_curve_length(by_arm):
    fig = F.training_curves_figure(by_arm, "synthetic", smooth=10)
    raw = F.curve(by_arm["baseline"], "loss")
    # the fixture logs 20 iterations: 5 % of them is one point, so the curve stays raw
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), raw["mean"])
    assert F._window(10, 200) == 10 and F._window(10, 100) == 5 and F._window(10, 2) == 1
