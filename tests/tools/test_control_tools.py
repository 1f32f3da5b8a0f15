"""The tools' part of the controls: the static_endpoint tool, the training's --cfg-options-file (the values reach
the resolved config), and the control block the evaluation writes into metrics.json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import dynrcnn.tools.evaluate as evaluate_tool
import dynrcnn.tools.train as train_tool
from dynrcnn import run_record
from dynrcnn.run_record import DATASET_LAYOUTS

REPO = Path(__file__).resolve().parents[2]


def _scalars(path, iou, beta):
    lines = [
        {"lr": 0.02, "loss": 1.0, "step": 5, "dynrcnn/iou_thr": 0.5, "dynrcnn/beta": 1.0},
        {"lr": 0.02, "loss": 1.0, "step": 10, "dynrcnn/iou_thr": 0.5, "dynrcnn/beta": 1.0}
        | {"dynrcnn/updated_iou_thr": iou, "dynrcnn/updated_beta": beta},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _endpoint_tool(*args):
    return subprocess.run(
        [sys.executable, "-m", "dynrcnn.tools.static_endpoint", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_static_endpoint_tool(tmp_path):
    scalars = _scalars(tmp_path / "scalars.json", 0.57, 0.31)
    out = tmp_path / "static" / "endpoint.json"
    out.parent.mkdir()
    proc = _endpoint_tool("--scalars", scalars, "--run", "dynamic_rcnn/default/seed0", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "dynamic_rcnn/default/seed0 ended (iteration 10) with iou_thr 0.57, beta 0.31" in proc.stdout
    record = run_record.read_endpoint(out)
    assert record["values"] == {"iou_thr": 0.57, "beta": 0.31} and record["run"] == "dynamic_rcnn/default/seed0"


def test_static_endpoint_tool_error_is_one_line(tmp_path):
    scalars = tmp_path / "scalars.json"
    scalars.write_text(json.dumps({"lr": 0.02, "loss": 1.0, "step": 5}) + "\n")
    proc = _endpoint_tool("--scalars", scalars, "--run", "x", "--out", tmp_path / "endpoint.json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "not the scalar log of a Dynamic R-CNN run" in proc.stderr
    assert not (tmp_path / "endpoint.json").exists()


def _layout(root):
    for split in ("train", "val"):
        ann, img = DATASET_LAYOUTS["synthetic"][split]
        (root / ann).parent.mkdir(parents=True, exist_ok=True)
        (root / ann).write_text("{}")
        (root / img).mkdir(parents=True, exist_ok=True)
    return root


def _train_args(tmp_path, *extra):
    config = REPO / "configs" / "synthetic" / "baseline.py"
    data = _layout(tmp_path / "data")
    return [str(config), "--work-dir", str(tmp_path / "w"), "--seed", "0", "--data-root", str(data), *extra]


def test_cfg_options_file_reaches_the_resolved_config(tmp_path):
    scalars = _scalars(tmp_path / "scalars.json", 0.57, 0.31)
    endpoint = tmp_path / "endpoint.json"
    run_record.write_endpoint(endpoint, scalars, "dynamic_rcnn/default/seed0")
    args = train_tool.parse_args(
        _train_args(tmp_path, "--cfg-options", "train_cfg.max_epochs=1", "--cfg-options-file", str(endpoint))
    )
    # applied after --cfg-options, and recorded with them (the manifest's cfg_options)
    assert args.cfg_options == {"train_cfg.max_epochs": 1, **run_record.control_cfg_options(iou_thr=0.57, beta=0.31)}
    cfg = train_tool.build_config(args)
    assigner = cfg.model.train_cfg.rcnn.assigner
    assert (assigner.pos_iou_thr, assigner.neg_iou_thr, assigner.min_pos_iou) == (0.57, 0.57, 0.57)
    assert cfg.model.roi_head.bbox_head.loss_bbox.beta == 0.31 and cfg.train_cfg.max_epochs == 1


def test_l1_cfg_options_replace_the_box_loss(tmp_path):
    options = [f"{k}={v}" for k, v in run_record.control_cfg_options(l1_loss_weight=1.0).items()]
    cfg = train_tool.build_config(train_tool.parse_args(_train_args(tmp_path, "--cfg-options", *options)))
    assert cfg.model.roi_head.bbox_head.loss_bbox.to_dict() == {"type": "L1Loss", "loss_weight": 1.0}


def test_unreadable_cfg_options_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"cfg_options": "beta=1"}))
    with pytest.raises(SystemExit) as exc:
        train_tool.parse_args(_train_args(tmp_path, "--cfg-options-file", str(bad)))
    assert exc.value.code == 2
    assert "--cfg-options-file: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_tool.parse_args(_train_args(tmp_path, "--cfg-options-file", str(tmp_path / "none.json")))
    assert "none.json: missing" in capsys.readouterr().err


def _control_config(run, iou, loss):
    (run / "config.py").write_text(
        "model = dict(\n"
        "    roi_head=dict(bbox_head=dict(loss_bbox=" + repr(loss) + ")),\n"
        "    train_cfg=dict(rcnn=dict(\n"
        f"        assigner=dict(type='MaxIoUAssigner', pos_iou_thr={iou}, neg_iou_thr={iou}, min_pos_iou={iou}),\n"
        "        dynamic_rcnn=dict(iou_topk=20, beta_topk=6, update_iter_interval=20))))\n"
        + (run / "config.py").read_text().split("\n", 1)[1]  # make_run's val_evaluator
    )


ARGS = ["--family", "synthetic", "--arm", "baseline", "--seed", "3"]


def test_evaluation_records_the_control_values(tmp_path, make_run):
    run, _, dets = make_run(tmp_path)
    _control_config(run, 0.6, dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0))
    evaluate_tool.main(["--run-dir", str(run), "--detections", dets, "--variant", "iou0.6"] + ARGS)
    record = run_record.read_metrics(run / "metrics.json", expect=dict(variant="iou0.6"))
    assert record["run"]["control"] == dict(kind="iou", iou_thr=0.6, beta=1.0, loss="SmoothL1Loss")


def test_evaluation_of_a_static_control_records_its_endpoint(tmp_path, make_run):
    run, _, dets = make_run(tmp_path)
    run_record.write_endpoint(
        run / "endpoint.json", _scalars(tmp_path / "s.json", 0.57, 0.31), "dynamic_rcnn/default/seed3"
    )
    _control_config(run, 0.57, dict(type="SmoothL1Loss", beta=0.31, loss_weight=1.0))
    evaluate_tool.main(["--run-dir", str(run), "--detections", dets, "--variant", "static"] + ARGS)
    control = run_record.read_metrics(run / "metrics.json")["run"]["control"]
    assert control["endpoint"] == dict(run="dynamic_rcnn/default/seed3", step=10, iou_thr=0.57, beta=0.31)
    assert (control["iou_thr"], control["beta"]) == (0.57, 0.31)


def test_a_control_whose_config_lacks_its_value_gets_no_metrics(tmp_path, make_run):
    """A config that does not hold the control's value (the cfg options did not reach it) is no control run."""
    run, _, dets = make_run(tmp_path)
    _control_config(run, 0.5, dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0))
    with pytest.raises(SystemExit, match=r"run\.control\.beta is 1\.0 but the variant 'beta0\.5' fixes 0\.5"):
        evaluate_tool.main(["--run-dir", str(run), "--detections", dets, "--variant", "beta0.5"] + ARGS)
    assert not (run / "metrics.json").exists()
