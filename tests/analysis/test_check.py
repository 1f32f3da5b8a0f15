"""The acceptance check's gates on fake scalar logs: a healthy set of arms passes every gate; each broken run fails
its named gate with a one-line reason."""

import copy
import csv
import json
import math

import pytest

from analysis import check

ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
C = 100
REFERENCE = {100: (0.4208, "verified", "author"), 200: (0.4913, "verified", "author"), 300: (0.5167, "v", "a")}


def _lines(arm, iters=500, interval=10):
    """A healthy run: loss falling, equal across arms up to C, threshold on REFERENCE, beta falling."""
    lines = []
    for step in range(interval, iters + 1, interval):
        loss = 2.0 - step / 1000 if step <= C else 2.0 - step / 1000 - 0.01 * ARMS.index(arm)
        line = {"step": step, "loss": loss, "loss_cls": loss / 2, "time": 0.3, "dynrcnn/pos_per_img": 5.0}
        if arm in ("dla", "dynamic_rcnn"):
            line["dynrcnn/iou_thr"] = 0.4 if step <= C else REFERENCE[min(300, step // C * C)][0]
            if step % C == 0 and step in REFERENCE:
                line["dynrcnn/updated_iou_thr"] = REFERENCE[step][0] + 0.005
        if arm in ("dsl", "dynamic_rcnn"):
            line["dynrcnn/beta"] = 1.0 if step <= C else 1.0 - step / 2000
        lines.append(line)
    return lines


def _runs():
    return {arm: {"lines": _lines(arm), "ranks": []} for arm in ARMS}


def _by_gate(rows):
    return {(r["gate"], r["arm"]): r for r in rows}


def test_a_healthy_check_passes_every_gate():
    rows = check.check_rows(_runs(), REFERENCE, update_interval=C)
    assert check.passed(rows), check.check_markdown(rows, "synthetic")
    gates = {r["gate"] for r in rows}
    assert gates == {"trajectory", "finite", "loss_falls", "beta", "positives", "identical_start", "speed"}
    got = _by_gate(rows)
    assert ("beta", "baseline") not in got and ("beta", "dsl") in got  # beta only in the DSL arms
    assert got[("speed", "dla")]["reason"].startswith("0.3000 s/iteration after warm-up; no GPU memory")


def _fails(runs, gate, arm, text, **kw):
    rows = check.check_rows(runs, REFERENCE, update_interval=C, **kw)
    failed = [r for r in rows if r["verdict"] == "FAIL"]
    assert [(r["gate"], r["arm"]) for r in failed] == [(gate, arm)], check.check_markdown(rows, "x")
    assert text in failed[0]["reason"] and "\n" not in failed[0]["reason"]
    return failed[0]["reason"]


def test_a_diverging_run_fails_finite_and_loss_falls():
    runs = _runs()
    for line in runs["dsl"]["lines"][-5:]:
        line["loss"] = math.inf
    rows = check.check_rows(runs, REFERENCE, update_interval=C)
    failed = {(r["gate"], r["arm"]): r["reason"] for r in rows if r["verdict"] == "FAIL"}
    assert set(failed) == {("finite", "dsl"), ("loss_falls", "dsl")}
    assert failed[("finite", "dsl")] == "loss is inf at iteration 460"


def test_a_trajectory_off_by_more_than_the_tolerance_fails_the_trajectory_gate():
    runs = _runs()
    for line in runs["dynamic_rcnn"]["lines"]:
        if "dynrcnn/updated_iou_thr" in line:
            line["dynrcnn/updated_iou_thr"] += 0.05
    reason = _fails(runs, "trajectory", "dynamic_rcnn", "outside 0.03")
    assert "100: 0.4758 vs 0.4208 [verified]" in reason
    assert check.passed(check.check_rows(runs, REFERENCE, update_interval=C, tolerance=0.06))


def test_the_mean_over_ranks_is_shown():
    runs = _runs()
    rank_lines = [dict(step=100, **{"dynrcnn/updated_iou_thr": v}) for v in (0.42, 0.43)]
    runs["dynamic_rcnn"]["ranks"] = [[rank_lines[0]], [rank_lines[1]]]
    (row,) = [r for r in check.check_rows(runs, REFERENCE, update_interval=C) if r["gate"] == "trajectory"]
    assert "100: 0.4258, mean over 2 ranks 0.4250 vs 0.4208" in row["reason"]


def test_a_rising_beta_fails_the_beta_gate():
    runs = _runs()
    for line in runs["dynamic_rcnn"]["lines"]:
        if line["step"] > C:
            line["dynrcnn/beta"] = 0.5 + line["step"] / 2000
    _fails(runs, "beta", "dynamic_rcnn", "(rising)")
    runs["dynamic_rcnn"]["lines"][-1]["dynrcnn/beta"] = 1.2
    _fails(runs, "beta", "dynamic_rcnn", "above its initial 1.0 at iteration 500")


def test_no_positives_fails():
    runs = _runs()
    runs["baseline"]["lines"][3]["dynrcnn/pos_per_img"] = 0.0
    _fails(runs, "positives", "baseline", "fewest positives per image 0.00 (iteration 40)")


def test_arms_that_differ_before_the_first_update_fail_identical_start():
    runs = _runs()
    runs["dla"]["lines"][2]["loss"] += 0.01
    _fails(runs, "identical_start", "all", "at iteration 30")


def test_a_loss_that_does_not_fall_fails():
    runs = _runs()
    for line in runs["baseline"]["lines"]:
        line["loss"] = 3.0 if line["step"] > 400 else line["loss"]
    _fails(runs, "loss_falls", "baseline", "over the last 100")


def test_rank_logs_are_read_as_scalar_lines(tmp_path):
    path = tmp_path / "dynrcnn_rank1.jsonl"
    path.write_text(json.dumps({"iter": 100, "iou_thr": 0.4, "updated_iou_thr": 0.43}) + "\n")
    (line,) = check.read_lines(path)
    assert line == {"step": 100, "dynrcnn/iou_thr": 0.4, "dynrcnn/updated_iou_thr": 0.43}
    assert check.threshold_after([line], 100) == 0.43


def test_cli_writes_the_verdicts_and_exits_1_on_a_fail(tmp_path, capsys):
    runs = _runs()
    runs["dsl"]["lines"][-1]["loss"] = math.nan
    args = []
    for arm, run in runs.items():
        folder = tmp_path / arm
        folder.mkdir()
        (folder / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in run["lines"]))
        args.append(f"{arm}={folder}")
    ref = tmp_path / "trajectory.csv"
    ref.write_text(
        "family,iteration,iou_thr,status,source\n"
        + "".join(f"fam,{it},{v},measured,here\n" for it, (v, _, _) in REFERENCE.items())
    )
    out = tmp_path / "out"
    argv = ["--family", "fam", "--dataset", "synthetic", "--update-interval", str(C), "--reference", str(ref)]
    assert check.main(argv + ["--out", str(out), "--runs", *args]) == 1
    assert "FAIL finite (dsl): loss is nan at iteration 500" in capsys.readouterr().err
    text = (out / "check.md").read_text()
    assert text.startswith("Acceptance check of `fam`: FAIL") and "| finite | dsl | FAIL |" in text
    runs_ok = copy.deepcopy(runs)
    runs_ok["dsl"]["lines"][-1]["loss"] = 1.5
    (tmp_path / "dsl" / "scalars.json").write_text("".join(json.dumps(x) + "\n" for x in runs_ok["dsl"]["lines"]))
    assert check.main(argv + ["--out", str(out), "--runs", *args]) == 0


def test_coco_reference_is_the_authors_trajectory():
    ref = check.reference_trajectory("coco_r50_fpn_1x", "coco")
    assert sorted(ref) == [100, 200, 300, 400, 500]
    assert ref[100][0] == 0.4208 and ref[500][0] == pytest.approx(0.5379, abs=1e-4)


def test_a_measured_trajectory_is_written_and_read_back(tmp_path):
    folder = tmp_path / "dynamic_rcnn"
    folder.mkdir()
    lines = _lines("dynamic_rcnn", iters=300)
    (folder / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "trajectory_fam.csv"
    argv = [
        "--family",
        "fam",
        "--dataset",
        "synthetic",
        "--update-interval",
        str(C),
        "--runs",
        f"dynamic_rcnn={folder}",
    ]
    assert check.main(argv + ["--write-trajectory", str(out)]) == 0
    ref = check.reference_trajectory("fam", "synthetic", str(out))
    assert {it: v for it, (v, status, _) in ref.items() if status == "measured"} == {
        it: round(REFERENCE[it][0] + 0.005, 4) for it in (100, 200, 300)
    }


def test_a_missing_reference_fails_the_trajectory_gate_and_the_others_still_run(tmp_path):
    args = []
    for arm, run in _runs().items():
        folder = tmp_path / arm
        folder.mkdir()
        (folder / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in run["lines"]))
        args.append(f"{arm}={folder}")
    argv = ["--family", "fam", "--dataset", "synthetic", "--update-interval", str(C), "--out", str(tmp_path / "o")]
    assert check.main(argv + ["--reference", str(tmp_path / "none.csv"), "--runs", *args]) == 1
    rows = list(csv.DictReader((tmp_path / "o" / "check.csv").open()))
    failed = [(r["gate"], r["reason"]) for r in rows if r["verdict"] == "FAIL"]
    assert len(failed) == 1 and failed[0][0] == "trajectory" and "--write-trajectory" in failed[0][1]
    assert sum(r["verdict"] == "PASS" for r in rows) > 10
