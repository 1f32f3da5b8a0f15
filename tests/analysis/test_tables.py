"""Golden tests: exact table content for the fixture runs of conftest.py (known levels)."""

import io

import pandas as pd
import pytest
from scipy import stats

from analysis import tables as T
from analysis.references import load_references
from analysis.results import compute
from analysis.runs import load_runs
from analysis.style import ARM_LABELS
from analysis.summary import DEVIATIONS_LINK, render
from tests.analysis.fake_runs import run_files


@pytest.fixture(scope="module")
def refs():
    return load_references()


@pytest.fixture(scope="module")
def coco_res(fixture_tree):
    return compute(load_runs(*run_files(fixture_tree["runs_coco"])))


@pytest.fixture(scope="module")
def tables(fixture_tree, refs):
    runs = load_runs(*run_files(fixture_tree["runs"]))
    return {t.name: t for t in T.build_tables(runs, refs, "synthetic", "synthetic")}


def md_rows(table):
    return [line for line in table.to_markdown().splitlines() if line.startswith("| ") and "---" not in line]


def test_ablation_rows(tables):
    """Synthetic: ours beside the paper's numbers, no difference between them (not comparable)."""
    rows = md_rows(tables["ablation"])
    assert rows[0].startswith("| Arm | n | AP ours | AP paper | AP50 ours |") and " Δ" not in rows[0]
    assert rows[1] == (
        "| Baseline (Faster R-CNN) | 3 | 31.0 ± 1.0 | 37.0 [d] | 51.0 ± 1.0 | 58.0 [u] | 47.0 ± 1.0 | 53.5 [u] | "
        "43.0 ± 1.0 | 46.0 [u] | 39.0 ± 1.0 | 32.6 [u] | 35.0 ± 1.0 | 9.7 [u] |"
    )
    assert tables["ablation"].title == "Component ablation (AP in %)"


def test_coco_ablation_shows_differences_against_the_paper(coco_res, refs):
    rows = md_rows(T.ablation_table(coco_res, refs, "coco"))
    assert rows[0].startswith("| Arm | n | AP ours | AP paper | AP Δ | AP50 ours |")
    assert rows[1:] == [
        "| Baseline (Faster R-CNN) | 3 | 31.0 ± 1.0 | 37.0 [d] | -6.0 [d] | 51.0 ± 1.0 | 58.0 [u] | -7.0 [u] | "
        "47.0 ± 1.0 | 53.5 [u] | -6.5 [u] | 43.0 ± 1.0 | 46.0 [u] | -3.0 [u] | 39.0 ± 1.0 | 32.6 [u] | +6.4 [u] | "
        "35.0 ± 1.0 | 9.7 [u] | +25.3 [u] |",
        "| + DLA only | 3 | 34.0 ± 1.0 | ~38.0 [u] | ~-4.0 [u] | 54.0 ± 1.0 | — | — | 50.0 ± 1.0 | — | — | "
        "46.0 ± 1.0 | — | — | 42.0 ± 1.0 | — | — | 38.0 ± 1.0 | — | — |",
        "| + DSL only | 2 | 31.0 ± 1.4 | ~38.0 [u] | ~-7.0 [u] | 51.0 ± 1.4 | — | — | 47.0 ± 1.4 | — | — | "
        "43.0 ± 1.4 | — | — | 39.0 ± 1.4 | — | — | 35.0 ± 1.4 | — | — |",
        "| Dynamic R-CNN (DLA + DSL) | 1 | 40.0 | 38.9 [v] | +1.1 [v] | 60.0 | 57.3 [u] | +2.7 [u] | 56.0 | "
        "53.6 [u] | +2.4 [u] | 52.0 | 47.4 [u] | +4.6 [u] | 48.0 | 36.3 [u] | +11.7 [u] | 44.0 | 15.2 [u] | "
        "+28.8 [u] |",
    ]


def test_ablation_notes_explain_statuses_and_partial_seeds(tables):
    md = tables["ablation"].to_markdown()
    assert md.index(T.SYNTHETIC_NOTE) < md.index("| Arm |")  # said plainly, above the table
    assert "[u] unverified: recalled, not checked against the paper's PDF" in md
    assert (
        "- Baseline (Faster R-CNN), AP50, AP60, AP70, AP80, AP90 [u] (unverified): recalled, not checked "
        "against the paper's PDF."
    ) in md
    assert "- Baseline (Faster R-CNN), AP [d] (derived): 38.9 [v] (official README AP) - 1.9 [v]" in md
    assert "- Partial seeds: + DSL only has n = 2 (seeds 0, 1); missing seeds 2." in md
    assert "- Partial seeds: Dynamic R-CNN (DLA + DSL) has n = 1 (seeds 0); missing seeds 1, 2." in md


def test_ablation_csv(tables):
    df = pd.read_csv(io.StringIO(tables["ablation"].to_csv()))
    assert len(df) == 4 * 6
    row = df[(df.arm == "dsl") & (df.metric == "AP")].iloc[0]
    assert (
        row.n,
        row.seeds,
        row.ours_mean,
        row.ours_std,
        row.paper,
        row.paper_approx,
        row.paper_status,
        row["diff"],
    )[:7] == (2, "0,1", 31.0, 1.4142, 38.0, True, "unverified")
    assert pd.isna(row["diff"])  # synthetic: no difference against COCO numbers
    row = df[(df.arm == "dla") & (df.metric == "AP90")].iloc[0]
    assert row.ours_mean == 38.0 and pd.isna(row.paper) and pd.isna(row["diff"])


def test_coco_ablation_csv_has_the_difference(coco_res, refs):
    df = T.ablation_table(coco_res, refs, "coco").data
    assert df[(df.arm == "dsl") & (df.metric == "AP")].iloc[0]["diff"] == pytest.approx(-7.0)


def _dla_gain_cell():
    """The DLA-only cell from scipy directly: per-seed differences 3, 4, 2 (AP points); Holm over the two arms with
    a p (DSL only: Welch, p = 1; Dynamic R-CNN: n = 1, no p)."""
    dla, base = [33.0, 35.0, 34.0], [30.0, 31.0, 32.0]
    test = stats.ttest_rel(dla, base)
    ci = test.confidence_interval(0.95)
    p_holm = min(1.0, 2 * test.pvalue)
    return f"+3.0 [{ci.low:+.1f}, {ci.high:+.1f}] p_H {p_holm:.3f}"


def test_gains_rows(tables):
    rows = md_rows(tables["gains"])
    assert rows[0] == (
        "| Arm | Source | n (arm / baseline) | AP | AP50 | AP60 | AP70 | AP75 | AP80 | AP90 | APS | APM | APL |"
    )
    dla = _dla_gain_cell()
    assert dla == "+3.0 [+0.5, +5.5] p_H 0.070"
    welch = stats.ttest_ind([30.0, 32.0], [30.0, 31.0, 32.0], equal_var=False).confidence_interval(0.95)
    dsl = f"+0.0 [{welch.low:+.1f}, {welch.high:+.1f}] p_H 1.000 (Welch)"
    assert rows[1:] == [
        "| + DLA only | ours | 3 / 3 | " + " | ".join([dla] * 10) + " |",
        "| + DLA only | paper | — | ~+1.0 [u] | " + " | ".join(["—"] * 9) + " |",
        "| + DSL only | ours | 2 / 3 | " + " | ".join([dsl] * 10) + " |",
        "| + DSL only | paper | — | ~+1.0 [u] | " + " | ".join(["—"] * 9) + " |",
        "| Dynamic R-CNN (DLA + DSL) | ours | 1 / 3 | " + " | ".join(["+9.0 (n = 1)"] * 7) + " | — | +9.0 (n = 1) | "
        "+9.0 (n = 1) |",
        "| Dynamic R-CNN (DLA + DSL) | paper | — | +1.9 [v] | -0.7 [u] | +0.1 [u] | +1.4 [u] | — | +3.7 [u] | "
        "+5.5 [v] | — | — | — |",
        "| Baseline seed std (run-to-run noise) | ours | 3 | " + " | ".join(["1.0"] * 10) + " |",
    ]
    md = tables["gains"].to_markdown()
    assert "paired t-test" in md and "Holm-adjusted" in md and "95 %" in md
    assert "*" not in "".join(rows) and "2 × SE" not in md and "SE" not in md


def test_gains_csv(tables):
    df = pd.read_csv(io.StringIO(tables["gains"].to_csv()))
    row = df[(df.arm == "dla") & (df.source == "ours") & (df.metric == "AP")].iloc[0]
    test = stats.ttest_rel([33.0, 35.0, 34.0], [30.0, 31.0, 32.0])
    assert (row["diff"], row.n, row.test, row.seeds_agree) == (3.0, 3, "paired t", 3)
    assert row.p == pytest.approx(test.pvalue, abs=1e-4) and row.p_holm == pytest.approx(2 * test.pvalue, abs=1e-4)
    assert row.holm_family == "gains/AP" and row.holm_m == 2
    row = df[(df.arm == "dynamic_rcnn") & (df.source == "paper") & (df.metric == "AP90")].iloc[0]
    assert (row["diff"], row.status) == (5.5, "verified")


def test_breakdown_rows(tables):
    rows = md_rows(tables["breakdown"])
    assert rows[1:] == [
        "| Ours, Dynamic R-CNN, ResNet-18 at base width 16 with GroupNorm from scratch, 64-channel 4-level FPN "
        "(synthetic val) | 1 | 40.0 | 60.0 | 50.0 | undef. | 40.0 | 50.0 |",
        "| Paper (test-dev, as quoted by the reproduction report) | — | 39.1 [v] | 58.0 [v] | 42.8 [v] | 21.3 [v] | "
        "40.9 [v] | 50.3 [v] |",
        "| Reproduction report (MMDetection, 1 V100, val2017) | — | 38.9 [v] | 57.5 [v] | 42.8 [v] | 21.9 [v] | "
        "41.9 [v] | 51.1 [v] |",
        "| MMDetection model zoo, dynamic-rcnn_r50_fpn_1x (val2017) | — | 38.9 [v] | — | — | — | — | — |",
    ]
    title = tables["breakdown"].title
    assert title.startswith("Dynamic R-CNN full breakdown: ours (ResNet-18") and "R-50-FPN 1x references" in title


def test_sweeps_rows(tables):
    rows = md_rows(tables["sweeps"])
    assert rows[1:] == [
        "| Dynamic R-CNN (DLA + DSL) | default | 75 | 10 | 100 | 1 | 40.0 | 60.0 | 50.0 | 44.0 | (default) |",
        "| Dynamic R-CNN (DLA + DSL) | ki50-kb10-c100 | 50 | 10 | 100 | 2 | 39.0 ± 1.4 | 59.0 ± 1.4 | 49.0 ± 1.4 | "
        "43.0 ± 1.4 | -1.0 (n = 1) |",
    ]


def test_no_sweep_runs_keeps_the_table(fixture_tree, refs):
    table = T.sweeps_table(compute(load_runs(*run_files(fixture_tree["runs_nosweep"]))), refs, "synthetic")
    assert md_rows(table)[1:] == ["| no sweep runs | " + " | ".join(["—"] * 10) + " |"]
    assert "No sweep runs" in table.to_markdown()
    assert pd.read_csv(io.StringIO(table.to_csv())).arm.tolist() == ["no sweep runs"]


def test_coco_tables_have_no_layout_warning(coco_res, refs):
    md = T.ablation_table(coco_res, refs, "coco").to_markdown()
    assert T.SYNTHETIC_NOTE not in md and T.COCO_NOTE in md
    row = md_rows(T.breakdown_table(coco_res, refs, "coco", "coco_r50_fpn_1x"))[1]
    assert row.startswith("| Ours, Dynamic R-CNN, ImageNet-pretrained ResNet-50-FPN (the paper's) (val2017) | 1 |")


def test_runs_table(tables):
    md = tables["runs"].to_markdown()
    groups, per_run = md.split("### Per-run metrics (AP in %)")
    rows = [line for line in groups.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[3] == (
        "| + DSL only | default | 0,1 | 2 | 1 × 2 | 0.02 | cpu | Intel(R) Xeon(R) Processor @ 2.80GHz (AVX2) | 10.0 | "
        "0123456789 | ffffffffffff |"
    )
    assert len(rows) == 1 + 5
    # one row per run with its metrics (fixture: AP = level, AP50 = level + 0.2, APS -1 for dynamic_rcnn, ...)
    rows = [line for line in per_run.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| Arm | Variant | Seed | AP | AP50 | AP75 | APS | APM | APL | AP60 | AP70 | AP80 | AP90 |"
    assert len(rows) == 1 + 11
    assert (
        rows[2] == "| Baseline (Faster R-CNN) | default | 1 | 31.0 | 51.0 | 41.0 | 21.0 | 31.0 | 41.0 | 47.0 | 43.0 | "
        "39.0 | 35.0 |"
    )
    assert (
        rows[9] == "| Dynamic R-CNN (DLA + DSL) | default | 0 | 40.0 | 60.0 | 50.0 | undef. | 40.0 | 50.0 | 56.0 | "
        "52.0 | 48.0 | 44.0 |"
    )
    assert "\\textbf{Per-run metrics (AP in \\%)}" in tables["runs"].to_latex()


def test_runs_csv_is_the_per_run_table(tables):
    """One row per run: identity, hyper-parameters, every metric in percent (empty when undefined), provenance."""
    df = pd.read_csv(io.StringIO(tables["runs"].to_csv()))
    assert list(df.columns) == [
        "arm",
        "variant",
        "seed",
        "family",
        "dataset",
        "iou_topk",
        "beta_topk",
        "update_iter_interval",
        "AP",
        "AP50",
        "AP75",
        "APS",
        "APM",
        "APL",
        "AP55",
        "AP60",
        "AP65",
        "AP70",
        "AP80",
        "AP85",
        "AP90",
        "AP95",
        "gpus",
        "images_per_gpu",
        "lr",
        "device",
        "cpu_model",
        "cpu_capability",
        "wall_time_s",
        "git_commit",
        "config_sha256",
        "provenance_differs",
        "path",
    ]
    assert len(df) == 11
    row = df[(df.arm == "dla") & (df.seed == 1)].iloc[0]
    assert (row.family, row.dataset, row.AP, row.AP50, row.APS, row.AP55, row.AP95, row.iou_topk) == (
        "synthetic",
        "synthetic",
        35.0,
        55.0,
        25.0,
        53.0,
        37.0,
        75,
    )
    assert row.path.endswith("dla/default/seed1")
    row = df[(df.arm == "dynamic_rcnn") & (df.variant == "default")].iloc[0]
    assert pd.isna(row.APS) and row.AP == 40.0
    sweep = df[df.variant == "ki50-kb10-c100"]
    assert sweep.seed.tolist() == [0, 1] and sweep.iou_topk.tolist() == [50, 50] and sweep.AP.tolist() == [38.0, 40.0]


def test_reference_table_lists_every_number(tables, refs):
    assert len(md_rows(tables["reference_numbers"])) == 1 + len(refs)
    assert (
        "| ablation | paper, table 'effect of each component' (R-50-FPN 1x) | val2017 | dla | AP | ~38.0 | "
        "AP % | unverified [u] |" in tables["reference_numbers"].to_markdown()
    )


def test_latex_is_booktabs_and_escaped(tables):
    tex = tables["sweeps"].to_latex()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "K\\_I & K$\\beta$" not in tex and "K\\_I & K\\_$\\beta$" in tex
    assert "39.0 $\\pm$ 1.4" in tex
    ablation = tables["ablation"].to_latex()
    assert "resizebox" not in ablation and ablation.count("\\begin{tabular}") == 2  # split, never scaled to ~3 pt
    assert T.latex_escape("|gain| > 2 < 3") == "\\textbar{}gain\\textbar{} \\textgreater{} 2 \\textless{} 3"
    assert T.latex_escape("~38.0 [u] 50%") == "\\textasciitilde{}38.0 [u] 50\\%"


def test_write_creates_three_formats(tables, tmp_path):
    paths = tables["gains"].write(tmp_path)
    assert sorted(p.name for p in paths) == ["gains.csv", "gains.md", "gains.tex"]
    assert (tmp_path / "gains.md").read_text(encoding="utf-8") == tables["gains"].to_markdown()


def test_runs_table_keeps_the_dirty_mark(fixture_tree):
    runs = load_runs(*run_files(fixture_tree["runs"]))
    for r in runs:
        if r.arm == "dla":
            r.provenance["git_commit"] = "0123456789abcdef-dirty"
    table = T.runs_table(runs, "synthetic")
    md = table.to_markdown()
    assert "| 0123456789-dirty |" in md and "| 0123456789 |" in md
    assert "had uncommitted changes" in md
    clean = T.runs_table(load_runs(*run_files(fixture_tree["runs"])), "synthetic").to_markdown()
    assert "-dirty" not in clean and "uncommitted" not in clean


def test_runs_table_names_each_machine(fixture_tree):
    runs = load_runs(*run_files(fixture_tree["runs"]))
    for r in runs:
        if r.arm == "dla" and r.seed == 1:
            r.provenance.update(cpu_model="AMD EPYC 7B13", cpu_capability="AVX512")
        if r.arm == "dsl":
            del r.provenance["cpu_model"]  # a run from before the CPU was recorded
    table = T.runs_table(runs, "synthetic")
    rows = {row[0]: row[7] for row in table.rows}
    assert rows[ARM_LABELS["dla"]] == "AMD EPYC 7B13 (AVX512), Intel(R) Xeon(R) Processor @ 2.80GHz (AVX2)"
    assert rows[ARM_LABELS["dsl"]] == "?"
    row = table.data[(table.data.arm == "dla") & (table.data.seed == 1)].iloc[0]
    assert (row.cpu_model, row.cpu_capability) == ("AMD EPYC 7B13", "AVX512")


@pytest.mark.parametrize("family", ["synthetic", "coco_r50_fpn_1x", "coco_r50_fpn_1x_paper"])
def test_every_comparison_with_the_paper_names_its_family_rule_and_deviations(fixture_tree, refs, family):
    from dynrcnn import families

    runs = load_runs(*run_files(fixture_tree["runs"]))
    tables = {t.name: t for t in T.build_tables(runs, refs, "synthetic", family)}
    fam = families.family(family)
    for name in T.COMPARISON_TABLES:
        md = tables[name].to_markdown()
        assert f"Family: {family} " in md and f"statistics rule: '{fam.statistics}'" in md, name
        # the deviations are listed once, on SUMMARY.md, and linked from each table
        assert f"[Deviations from the paper]({DEVIATIONS_LINK})" in md, name
        assert not any(d.line() in md for d in fam.deviations), name
        assert T.latex_escape(f"Family: {family} ") in tables[name].to_latex(), name
    assert "Family:" not in tables["runs"].to_markdown()  # our runs only: no comparison with the paper
    page = render(compute(runs), refs, family, "synthetic")
    assert all(d.line() in page for d in fam.deviations)


def test_notes_starting_with_plus_are_not_nested_bullets(tables):
    md = tables["ablation"].to_markdown()
    assert "\n- \\+ DLA only" in md or "\n- \\+ DSL only" in md
    assert "\n- + " not in md


def test_wide_latex_tables_are_split_not_scaled(tables, coco_res, refs):
    tex = T.ablation_table(coco_res, refs, "coco").to_latex()
    heads = [line for line in tex.splitlines() if line.startswith("Arm & n & ")]
    # 20 columns: two tabulars of Arm, n and three metrics (ours, paper, Δ each), none scaled
    assert len(heads) == 2 and all(head.count(" & ") == 10 for head in heads)
    assert heads[1].startswith("Arm & n & AP70 ours & AP70 paper & AP70 $\\Delta$")
    assert "resizebox" not in tex
    for table in tables.values():
        for line in table.to_latex().splitlines():
            if line.startswith("\\begin{tabular}"):
                assert len(line.split("{")[2].rstrip("}")) <= T.LATEX_MAX_COLUMNS, table.name


def test_runs_table_lists_config_hashes_in_seed_order(fixture_tree):
    runs = load_runs(*run_files(fixture_tree["runs"]))
    for r in runs:
        if r.arm == "dla":
            r.provenance["config_sha256"] = {0: "c" * 64, 1: "a" * 64, 2: "b" * 64}[r.seed]
    rows = {row[0]: row for row in T.runs_table(runs, "synthetic").rows}
    assert rows[ARM_LABELS["dla"]][2] == "0,1,2"
    assert rows[ARM_LABELS["dla"]][10] == "cccccccccccc (seed 0), aaaaaaaaaaaa (seed 1), bbbbbbbbbbbb (seed 2)"


def test_notices_open_the_runs_table(fixture_tree, refs):
    runs = load_runs(*run_files(fixture_tree["runs_nosweep"]))
    tables = {t.name: t for t in T.build_tables(runs, refs, "synthetic", "synthetic", notices=["mixed commits"])}
    assert tables["runs"].notes[0] == "mixed commits" and "- mixed commits" in tables["runs"].to_markdown()
    assert "mixed commits" not in tables["gains"].to_markdown()
