"""The expected-results gate: passes on the committed synthetic runs, fails (exit 1, the arm named) on runs moved
outside the tolerance; COCO families are gated on the paper's verified or derived numbers only."""

import csv
import math
from pathlib import Path

import pytest

from analysis import verify
from tests.analysis.fake_runs import write_run

REPO = Path(__file__).resolve().parents[2]
RUNS_CSV = REPO / "reports" / "synthetic" / "tables" / "runs.csv"


def _committed_ap():
    ap, dataset = verify.ap_from_runs_csv(RUNS_CSV, "synthetic")
    assert dataset == "synthetic" and set(ap) == set(verify.ARMS)
    return ap


def _write_runs(root, ap_by_arm, shift=None, family="synthetic", dataset="synthetic"):
    files = []
    for arm, values in ap_by_arm.items():
        for seed, value in enumerate(values):
            value += (shift or {}).get(arm, 0.0)
            run = write_run(root, arm, seed, value / 100, family=family, dataset=dataset, epochs=1)
            files.append(str(run / "metrics.json"))
    return files


def test_the_committed_expectations_are_the_committed_runs_seed_means(tmp_path):
    out = tmp_path / "expected.csv"
    assert verify.main(["expect", "--runs-csv", str(RUNS_CSV), "--out", str(out)]) == 0
    assert out.read_text() == verify.expected_path("synthetic").read_text()
    rows = list(csv.DictReader(out.open()))
    assert [r["arm"] for r in rows] == list(verify.ARMS)
    ap = _committed_ap()
    for row in rows:
        assert float(row["expected"]) == pytest.approx(sum(ap[row["arm"]]) / len(ap[row["arm"]]), abs=1e-4)
        assert row["status"] == "measured" and float(row["tolerance"]) == verify.SYNTHETIC_TOLERANCE


def test_passes_on_the_committed_synthetic_runs(tmp_path, capsys):
    assert verify.main(["check", "--family", "synthetic", "--runs-csv", str(RUNS_CSV)]) == 0
    files = _write_runs(tmp_path / "runs", _committed_ap())
    out = tmp_path / "verify.md"
    assert verify.main(["check", "--family", "synthetic", "--metrics", *files, "--out", str(out)]) == 0
    text = out.read_text()
    assert "Expected results of `synthetic`: PASS" in text and text.count("| PASS |") == 4


def test_fails_on_an_arm_moved_outside_the_tolerance(tmp_path, capsys):
    ap = _committed_ap()
    rows = verify.verify_rows(ap, verify.expectations("synthetic", "synthetic"))
    tolerance = {r["arm"]: r["tolerance"] for r in rows}["dla"]
    files = _write_runs(tmp_path / "runs", ap, shift={"dla": -(tolerance + 0.5)})
    out = tmp_path / "verify.md"
    assert verify.main(["check", "--family", "synthetic", "--metrics", *files, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "| dla |" in captured.out and captured.out.count("| FAIL |") == 1
    assert "FAIL: dla (mean" in captured.err and "outside" in captured.err
    assert not out.exists()  # no verdict file that a later step could read as a pass


def test_a_missing_arm_fails():
    ap = _committed_ap()
    del ap["dsl"]
    rows = {r["arm"]: r for r in verify.verify_rows(ap, verify.expectations("synthetic", "synthetic"))}
    assert rows["dsl"]["verdict"] == "FAIL" and rows["dsl"]["reason"] == "no run of this arm"


def test_coco_gates_the_papers_verified_and_derived_numbers():
    expected = verify.coco_expectations()
    assert expected["baseline"].expected == 37.0 and expected["baseline"].status == "derived"
    assert expected["dynamic_rcnn"].expected == 38.9 and expected["dynamic_rcnn"].status == "verified"
    assert expected["baseline"].gated and expected["dynamic_rcnn"].gated
    assert not expected["dla"].gated and not expected["dsl"].gated  # ~38.0 [u]
    ap = {"baseline": [37.3, 37.4, 37.35], "dla": [30.0], "dsl": [38.0], "dynamic_rcnn": [39.5, 39.45, 39.55]}
    rows = {r["arm"]: r for r in verify.verify_rows(ap, expected)}
    assert rows["baseline"]["verdict"] == "PASS" and rows["baseline"]["tolerance"] == verify.COCO_TOLERANCE
    assert rows["dynamic_rcnn"]["verdict"] == "FAIL"  # 0.6 AP above 38.9, seeds tight: the 0.5 AP tolerance holds
    assert rows["dla"]["verdict"] == rows["dsl"]["verdict"] == "SKIP"
    text = verify.verify_markdown(list(rows.values()), "coco_r50_fpn_1x")
    assert "37.0 [d]" in text and "38.9 [v]" in text and "FAIL" in text.splitlines()[0]


def test_the_seed_interval_widens_the_tolerance_when_wider():
    values = [36.0, 37.0, 38.0]  # sd 1: t(2) 4.303 x 1 / sqrt(3) = 2.48 > 0.5
    assert verify.ci_half_width(values) == pytest.approx(4.303 / math.sqrt(3))
    rows = verify.verify_rows({"baseline": values}, verify.coco_expectations())
    assert rows[0]["tolerance_from"].startswith("seed CI") and rows[0]["verdict"] == "PASS"
    assert math.isnan(verify.ci_half_width([37.0]))


def test_a_missing_expectations_file_names_the_command_that_writes_it(tmp_path):
    with pytest.raises(verify.VerifyError, match="python -m analysis.verify expect --runs-csv"):
        verify.read_expectations(tmp_path / "none.csv", "synthetic")
