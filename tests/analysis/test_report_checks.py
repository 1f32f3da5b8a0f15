"""What the report adds from the runs it reads: the mixed-provenance flag (SUMMARY.md and the runs table), the
compute table from the benchmark files given with --benchmarks, and the expected-results (verify) section of
SUMMARY.md."""

import csv

import pytest

from analysis import report
from analysis.verify import expected_path, read_expectations
from tests.analysis import fake_runs
from tests.analysis.fake_runs import report_args


# AP fractions per arm and seed, placed around the committed synthetic expectations
# (analysis/data/expected_synthetic.csv, 2.0 AP tolerance) so that the test does not change with them: dla 11.7 AP
# above its expectation (FAIL), the others within 0.1 AP of theirs (PASS; three seeds 0.1 AP apart give a seed
# interval narrower than 2.0).
def _levels():
    expected = read_expectations(expected_path("synthetic"), "synthetic")
    offsets = {"baseline": 0.0, "dla": 0.117, "dsl": 0.0, "dynamic_rcnn": 0.0}
    return {
        arm: tuple(expected[arm].expected / 100 + offsets[arm] + d for d in (0.0, 0.001, -0.001)) for arm in offsets
    }


LEVELS = _levels()
OTHER_COMMIT = "fedcba9876543210"
#: (rule, arm, seed, wall s, CPU s, max RSS MB) of the benchmark files given to the report.
BENCHMARKS = (
    ("train", "baseline", 0, 600.0, 1100.0, 900.0),
    ("evaluate", "baseline", 0, 60.0, 55.0, 1200.0),
    ("train", "dynamic_rcnn", 2, 720.0, 1300.5, 950.0),
)


@pytest.fixture(scope="module")
def checked_report(tmp_path_factory):
    """A report over fake runs (dynamic_rcnn seed 2 trained at another commit) with three benchmark files."""
    base = tmp_path_factory.mktemp("report_checks")
    runs = base / "runs" / "synthetic"
    for arm, levels in LEVELS.items():
        for seed, level in enumerate(levels):
            other = arm == "dynamic_rcnn" and seed == 2
            fake_runs.write_run(runs, arm, seed, level, provenance={"git_commit": OTHER_COMMIT} if other else None)
    files = [fake_runs.write_benchmark(base / "benchmarks", r, "synthetic", a, s, *v) for r, a, s, *v in BENCHMARKS]
    out = base / "report"
    args = report_args(runs) + ["--out-dir", str(out), "--family", "synthetic", "--dataset", "synthetic"]
    assert report.main(args + ["--benchmarks", *map(str, files)]) == 0
    return out


def _read(out, rel):
    return (out / rel).read_text(encoding="utf-8")


def test_runs_of_another_commit_are_flagged_on_the_verdict_page_and_the_runs_table(checked_report):
    summary, runs_md = _read(checked_report, "SUMMARY.md"), _read(checked_report, "tables/runs.md")
    for text in (summary, runs_md):
        assert "Mixed provenance: 1 run differ" in text
        assert f"`dynamic_rcnn/default/seed2`: git commit {OTHER_COMMIT}" in text
        assert "Enters:" in text and "baseline/default/seed0" not in text.split("Mixed provenance")[1].split("\n")[2]
    # the notice is quoted under the banner, before the verdict table
    assert summary.index("Mixed provenance") < summary.index("| claim |")
    # the run's rows carry the mark; the CSV names the field; the other runs are not marked
    assert "| Dynamic R-CNN (DLA + DSL) | default | 2 † |" in runs_md and "| Baseline | default | 0 † |" not in runs_md
    assert "(† seed 2)" in runs_md
    rows = list(csv.DictReader((checked_report / "tables" / "runs.csv").open(encoding="utf-8")))
    differs = {(r["arm"], r["seed"]): r["provenance_differs"] for r in rows}
    assert differs[("dynamic_rcnn", "2")] == "git commit"
    assert [k for k, v in differs.items() if v] == [("dynamic_rcnn", "2")]


def test_compute_table_totals_are_the_sums_of_the_benchmark_files(checked_report):
    rows = {r["arm"]: r for r in csv.DictReader((checked_report / "tables" / "compute.csv").open(encoding="utf-8"))}
    assert list(rows) == ["baseline", "dynamic_rcnn", "total"]
    total = rows["total"]
    assert int(total["jobs"]) == len(BENCHMARKS)
    assert float(total["wall_s"]) == pytest.approx(sum(b[3] for b in BENCHMARKS))
    assert float(total["cpu_s"]) == pytest.approx(sum(b[4] for b in BENCHMARKS))
    assert float(total["peak_rss_mb"]) == max(b[5] for b in BENCHMARKS)
    # fake runs record 1 GPU: a training's GPU-hours are its wall hours, an evaluation's likewise (one GPU)
    assert float(total["gpu_s"]) == pytest.approx(sum(b[3] for b in BENCHMARKS))
    assert float(rows["baseline"]["wall_s"]) == pytest.approx(600 + 60)
    assert float(rows["dynamic_rcnn"]["cpu_s"]) == pytest.approx(1300.5)
    md = _read(checked_report, "tables/compute.md")
    assert f"| total | 3 | {(600 + 60 + 720) / 3600:.3f} | {(1100 + 55 + 1300.5) / 3600:.3f} |" in md


def test_compute_table_without_benchmark_files_says_so(fixture_tree, tmp_path):
    out = tmp_path / "out"
    args = report_args(fixture_tree["runs_nosweep"]) + ["--out-dir", str(out), "--family", "synthetic"]
    assert report.main(args + ["--dataset", "synthetic"]) == 0
    assert "| no benchmark files given |" in _read(out, "tables/compute.md")
    # the fixture runs all share one provenance: no notice, no mark
    assert "Mixed provenance" not in _read(out, "SUMMARY.md") and "†" not in _read(out, "tables/runs.md")


def test_summary_shows_the_expected_results_per_arm(checked_report):
    summary = _read(checked_report, "SUMMARY.md")
    section = summary.split("## Expected results (verify)")[1].split("\n## ")[0]
    assert "Expected results of `synthetic`: FAIL" in section
    verdicts = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0] in LEVELS:
            verdicts[cells[0]] = (cells[4], cells[6])
    assert {arm: v for arm, (_, v) in verdicts.items()} == dict(
        baseline="PASS", dla="FAIL", dsl="PASS", dynamic_rcnn="PASS"
    )
    assert verdicts["baseline"][0] == "+-2.00 (fixed)"  # the tolerance is shown


def test_a_family_without_expectations_says_so(fixture_tree, tmp_path):
    out = tmp_path / "out"
    args = report_args(fixture_tree["runs_coco"]) + ["--out-dir", str(out), "--family", "coco_r50_fpn_1x"]
    assert report.main(args + ["--dataset", "coco"]) == 0
    section = _read(out, "SUMMARY.md").split("## Expected results (verify)")[1]
    # COCO: the paper's numbers (baseline 37.0 [d], Dynamic R-CNN 38.9 [v]); the fixture's ~31 AP baseline fails
    assert "Expected results of `coco_r50_fpn_1x`: FAIL" in section and "SKIP" in section
