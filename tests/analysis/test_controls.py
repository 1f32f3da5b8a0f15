"""The controls in the report: the controls table (golden, from fake control runs with known levels), "no control
runs" without them, the controls kept out of the sweeps table, and the gain-against-IoU figure's control panels."""

import io

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import figures, report
from analysis import tables as T
from analysis.comparisons import holm
from analysis.references import STATEMENTS, STATUSES, load_references
from analysis.results import compute
from analysis.runs import load_runs
from analysis.style import ARM_LABELS, CONTROL_COLORS
from tests.analysis import fake_runs
from tests.analysis.fake_runs import report_args, run_files

# AP levels (fractions) per run and seed; every other metric is the level plus a fixed offset (fake_metrics)
LEVELS = {
    ("baseline", "default"): {0: 0.30, 1: 0.31, 2: 0.32},
    ("dynamic_rcnn", "default"): {0: 0.40, 1: 0.41, 2: 0.42},
    ("baseline", "beta0.5"): {0: 0.33, 1: 0.35, 2: 0.34},
    ("baseline", "l1"): {0: 0.31},
    ("baseline", "iou0.6"): {0: 0.29, 1: 0.30, 2: 0.31},
    ("baseline", "static"): {0: 0.38, 1: 0.38, 2: 0.38},
}
#: the static control's (iou_thr, beta) per seed: the full run's of the same seed
ENDPOINTS = {0: (0.58, 0.3), 1: (0.6, 0.25), 2: (0.59, 0.35)}


@pytest.fixture(scope="module")
def control_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("controls") / "runs" / "synthetic"
    for (arm, variant), levels in LEVELS.items():
        for seed, level in levels.items():
            control = None
            if variant != "default":
                control = fake_runs.fake_control(variant, ENDPOINTS[seed] if variant == "static" else None)
            fake_runs.write_run(root, arm, seed, level, variant=variant, control=control)
    # a sweep run: in the sweeps table, not the controls table
    fake_runs.write_run(
        root,
        "dynamic_rcnn",
        0,
        0.39,
        variant="ki50-kb10-c100",
        hyperparameters={"iou_topk": 50, "beta_topk": 10, "update_iter_interval": 100},
    )
    return root


@pytest.fixture(scope="module")
def runs(control_tree):
    return load_runs(*run_files(control_tree))


@pytest.fixture(scope="module")
def table(runs):
    return T.controls_table(compute(runs), load_references(), "synthetic")


def md_rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]


def test_runs_carry_their_control_block(runs):
    static = [r for r in runs if r.variant == "static"]
    assert [(r.control["iou_thr"], r.control["beta"]) for r in static] == [ENDPOINTS[s] for s in (0, 1, 2)]
    assert all(r.control is None for r in runs if r.variant == "default")


def test_controls_table_rows(table):
    rows = md_rows(table.to_markdown())
    assert rows[0] == "| Run | Variant | IoU thr. | β | Box loss | n | AP | AP50 | AP60 | AP70 | AP80 | AP90 |"
    assert rows[1:6] == [
        f"| {ARM_LABELS['baseline']} | default | config | config | config | 3 | 31.0 ± 1.0 | 51.0 ± 1.0 | "
        "47.0 ± 1.0 | 43.0 ± 1.0 | 39.0 ± 1.0 | 35.0 ± 1.0 |",
        "| Baseline, β 0.5 | beta0.5 | 0.5 | 0.5 | SmoothL1Loss | 3 | 34.0 ± 1.0 | 54.0 ± 1.0 | 50.0 ± 1.0 | "
        "46.0 ± 1.0 | 42.0 ± 1.0 | 38.0 ± 1.0 |",
        "| Baseline, L1 loss | l1 | 0.5 | — | L1Loss | 1 | 31.0 | 51.0 | 47.0 | 43.0 | 39.0 | 35.0 |",
        "| Baseline, IoU thr. 0.6 | iou0.6 | 0.6 | 1 | SmoothL1Loss | 3 | 30.0 ± 1.0 | 50.0 ± 1.0 | 46.0 ± 1.0 | "
        "42.0 ± 1.0 | 38.0 ± 1.0 | 34.0 ± 1.0 |",
        "| Baseline, static endpoint | static | 0.590 (0.580–0.600) | 0.300 (0.250–0.350) | SmoothL1Loss | 3 | "
        "38.0 ± 0.0 | 58.0 ± 0.0 | 54.0 ± 0.0 | 50.0 ± 0.0 | 46.0 ± 0.0 | 42.0 ± 0.0 |",
    ]
    assert rows[6].startswith(f"| {ARM_LABELS['dynamic_rcnn']} | default | dynamic | dynamic | SmoothL1Loss | 3 | 41.0")


def _cell(a, b, p_adj):
    """A comparison cell computed with scipy directly (paired t, 95 % CI)."""
    test = stats.ttest_rel(a, b)
    diff = np.subtract(a, b)
    if np.std(diff) == 0:  # every seed gives the same difference: no spread, the interval is the point
        lo = hi = diff.mean()
    else:
        ci = test.confidence_interval(0.95)
        lo, hi = ci.low, ci.high
    return f"{diff.mean():+.1f} [{lo:+.1f}, {hi:+.1f}] p_H {p_adj:.3f}"


BASE, FULL = [30.0, 31.0, 32.0], [40.0, 41.0, 42.0]
BETA, IOU, STATIC = [33.0, 35.0, 34.0], [29.0, 30.0, 31.0], [38.0, 38.0, 38.0]


def test_controls_table_gains_and_differences(table):
    gains, diffs = table.parts
    assert gains.header == ["Run", "n (control / baseline)", "AP", "AP50", "AP60", "AP70", "AP80", "AP90"]
    # Holm within each metric over the controls with a p (L1 has one seed: no p): three against the baseline
    p = [stats.ttest_rel(x, BASE).pvalue for x in (BETA, IOU, STATIC)]
    adj = holm(p)
    assert [row[:3] for row in gains.rows] == [
        ["Baseline, β 0.5", "3 / 3", _cell(BETA, BASE, adj[0])],
        ["Baseline, L1 loss", "1 / 3", "+0.0 (n = 1)"],
        ["Baseline, IoU thr. 0.6", "3 / 3", _cell(IOU, BASE, adj[1])],
        ["Baseline, static endpoint", "3 / 3", _cell(STATIC, BASE, adj[2])],
    ]
    assert gains.rows[0][2] == "+3.0 [+0.5, +5.5] p_H " + f"{adj[0]:.3f}"
    p = [stats.ttest_rel(x, FULL).pvalue for x in (BETA, IOU, STATIC)]
    adj = holm(p)
    assert [row[:3] for row in diffs.rows] == [
        ["Baseline, β 0.5", "3 / 3", _cell(BETA, FULL, adj[0])],
        ["Baseline, L1 loss", "1 / 3", "-10.0 (n = 1)"],
        ["Baseline, IoU thr. 0.6", "3 / 3", _cell(IOU, FULL, adj[1])],
        ["Baseline, static endpoint", "3 / 3", _cell(STATIC, FULL, adj[2])],
    ]
    assert diffs.rows[3][2].startswith("-3.0 [-5.5, -0.5] p_H ")
    md = table.to_markdown()
    assert "± SE" not in md and "2 × SE" not in md and "*" not in "".join(md_rows(md))


def test_controls_table_csv(table):
    df = pd.read_csv(io.StringIO(table.to_csv()))
    row = df[(df.variant == "static") & (df.metric == "AP90")].iloc[0]
    assert (row.arm, row.kind, row.n, row.seeds, row["mean"]) == ("baseline", "static", 3, "0,1,2", 42.0)
    assert row.iou_thr == pytest.approx(0.59) and row.beta == pytest.approx(0.3)
    assert row.diff_vs_baseline == pytest.approx(7.0) and row.diff_vs_dynamic_rcnn == pytest.approx(-3.0)
    assert row.test_vs_dynamic_rcnn == "paired t" and row.holm_family_vs_dynamic_rcnn == "controls_vs_dynamic_rcnn/AP90"
    assert row.p_vs_dynamic_rcnn == pytest.approx(stats.ttest_rel(STATIC, FULL).pvalue, abs=1e-4)
    assert (row.ci_lo_vs_dynamic_rcnn, row.ci_hi_vs_dynamic_rcnn) == pytest.approx(
        tuple(stats.ttest_rel(STATIC, FULL).confidence_interval(0.95)), abs=1e-4
    )
    assert len(df) == 4 * 6  # four controls, six metrics (Dynamic R-CNN against the baseline: the gains table)


def test_controls_notes_say_what_the_interval_cannot_exclude(table):
    md = table.to_markdown()
    assert "matches" not in md and "cannot exclude" in md
    assert "rank 0's final threshold and beta" in md and "not synchronised" in md


def test_paper_statements_are_printed_with_their_status(table):
    md = table.to_markdown()
    assert len(STATEMENTS) == 2 and all(s.status in STATUSES for s in STATEMENTS)
    for statement in STATEMENTS:
        assert statement.status == "unverified"  # dynamic_rcnn_facts.md does not list them
        assert f"{statement.text} [u] (unverified: " in md
        # the first author's comment in issue #10 of the authors' repository, not the paper
        assert statement.source.startswith("First author, issue #10 of hkzhang95/DynamicRCNN")
    assert "Paper, on Dynamic SmoothL1" not in md
    assert "fixed SmoothL1 betas (0.5 to 2.0" in md and "plain L1 loss" in md
    assert "- Partial seeds: Baseline, L1 loss has n = 1 (seeds 0); missing seeds 1, 2." in md


def test_no_control_runs(fixture_tree):
    table = T.controls_table(compute(load_runs(*run_files(fixture_tree["runs"]))), load_references(), "synthetic")
    assert md_rows(table.to_markdown())[1].startswith("| no control runs | — |")
    assert table.parts == [] and "No control runs" in table.to_markdown()
    assert "[u] (unverified" in table.to_markdown()  # the paper's statements, with their status


def test_controls_stay_out_of_the_sweeps_table(runs):
    sweeps = md_rows(T.sweeps_table(compute(runs), load_references(), "synthetic").to_markdown())
    assert [row.split(" | ")[1] for row in sweeps[1:]] == ["default", "ki50-kb10-c100"]


def test_gain_vs_iou_figure_draws_the_controls_against_dynamic_rcnn(runs):
    by_arm = T.default_runs(runs)
    fig = figures.gain_vs_iou_figure(by_arm, "synthetic", controls=T.control_runs(runs))
    arms_ax, loss_ax, assign_ax = fig.axes
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == [
        "Baseline, β 0.5 (n=3)",
        "Baseline, L1 loss (n=1)",
    ]
    assert [t.get_text() for t in assign_ax.get_legend().get_texts()] == [
        "Baseline, IoU thr. 0.6 (n=3)",
        "Baseline, static endpoint (n=3)",
    ]
    # static - Dynamic R-CNN per seed: 0.38 - (0.40, 0.41, 0.42) at every threshold
    static = assign_ax.containers[1].lines[0]
    assert np.allclose(np.asarray(static.get_ydata(), float), -3.0)
    assert mcolors.to_hex(static.get_color()) == mcolors.to_hex(CONTROL_COLORS[1])
    # the arms' panel holds the arms only; without controls there is no control panel
    assert len(arms_ax.containers) == 1
    assert len(figures.gain_vs_iou_figure(by_arm, "synthetic").axes) == 1
    assert len(figures.ap_vs_iou_figure(by_arm, "synthetic").axes[0].containers) == 2


def test_report_writes_the_controls_table(control_tree, tmp_path):
    out = tmp_path / "out"
    args = report_args(control_tree) + ["--out-dir", str(out), "--family", "synthetic", "--dataset", "synthetic"]
    assert report.main(args) == 0
    md = (out / "tables" / "controls.md").read_text(encoding="utf-8")
    assert md.startswith("## Controls: the baseline with fixed values") and "| Baseline, static endpoint |" in md
    assert "synthetic" in md.split("| Run |")[0]  # the family above the comparison, its deviations linked
    page = (out / "SUMMARY.md").read_text(encoding="utf-8")
    # static - Dynamic R-CNN per seed: -2, -3, -4 AP points, paired over the three seeds
    assert "| the gain is not explained by the final threshold and beta alone" in page
    assert "-3.0 (3 of 3 seeds agree in sign; 95 % CI -5.5 to -0.5)" in page
