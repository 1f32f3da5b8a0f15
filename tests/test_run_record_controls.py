"""dynrcnn.run_record's controls: variant names (round trip), the control block of metrics.json, the static
endpoint's values read from a full run's scalars.json and its endpoint.json."""

import json
import math
import re

import pytest

from dynrcnn import run_record as rr


@pytest.mark.parametrize(
    "kind, value, name, fixed",
    [
        ("beta", 0.5, "beta0.5", {"kind": "beta", "beta": 0.5}),
        ("beta", 2, "beta2.0", {"kind": "beta", "beta": 2.0}),
        ("beta", 0.111, "beta0.111", {"kind": "beta", "beta": 0.111}),
        ("beta", 1e-05, "beta0.00001", {"kind": "beta", "beta": 1e-05}),
        ("l1", None, "l1", {"kind": "l1"}),
        ("iou", 0.6, "iou0.6", {"kind": "iou", "iou_thr": 0.6}),
        ("iou", 0.575, "iou0.575", {"kind": "iou", "iou_thr": 0.575}),
        ("static", None, "static", {"kind": "static"}),
    ],
)
def test_control_names_round_trip(kind, value, name, fixed):
    assert rr.control_variant(kind, value) == name
    assert rr.parse_control(name) == fixed
    assert re.fullmatch(rr.VARIANT_PATTERN, name)  # a Snakemake wildcard value
    assert rr.parse_variant(name) is None  # a control fixes no Dynamic R-CNN hyper-parameter
    if value is not None:
        value_key = "beta" if kind == "beta" else "iou_thr"
        assert rr.control_variant(kind, rr.parse_control(name)[value_key]) == name


def test_other_variants_are_no_controls():
    assert rr.parse_control("default") is None
    assert rr.parse_control("ki50-kb10-c100") is None
    assert rr.parse_variant("ki50-kb10-c100") == {"iou_topk": 50, "beta_topk": 10, "update_iter_interval": 100}
    with pytest.raises(ValueError, match=r"nor a control \(beta\{B\}, l1, iou\{T\}, static\)"):
        rr.parse_variant("beta")


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("beta", 0, "a SmoothL1 beta must be positive, not 0"),
        ("beta", -1.0, "a SmoothL1 beta must be positive"),
        ("beta", math.inf, "needs a finite number"),
        ("iou", 1.0, r"an IoU threshold must lie strictly between 0 and 1, not 1.0"),
        ("iou", 0.0, "strictly between 0 and 1"),
        ("l1", 0.5, "takes no value"),
        ("focal", None, "unknown control kind"),
    ],
)
def test_unusable_control_values_are_refused(kind, value, message):
    with pytest.raises(ValueError, match=message):
        rr.control_variant(kind, value)


@pytest.mark.parametrize(
    "name, message",
    [("beta0.50", "is spelled 'beta0.5'"), ("beta0.0", "must be positive"), ("iou0.0", "strictly between")],
)
def test_non_canonical_or_unusable_names_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        rr.parse_control(name)


def test_control_cfg_options():
    assert rr.control_cfg_options(iou_thr=0.6) == {
        "model.train_cfg.rcnn.assigner.pos_iou_thr": 0.6,
        "model.train_cfg.rcnn.assigner.neg_iou_thr": 0.6,
        "model.train_cfg.rcnn.assigner.min_pos_iou": 0.6,
    }
    assert rr.control_cfg_options(beta=0.5) == {"model.roi_head.bbox_head.loss_bbox.beta": 0.5}
    assert rr.control_cfg_options(l1_loss_weight=1.0) == {
        "model.roi_head.bbox_head.loss_bbox._delete_": True,
        "model.roi_head.bbox_head.loss_bbox.type": "L1Loss",
        "model.roi_head.bbox_head.loss_bbox.loss_weight": 1.0,
    }


def _scalars(path, lines):
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _train_line(step, iou, beta, **extra):
    return {"lr": 0.02, "loss": 1.0, "step": step, "dynrcnn/iou_thr": iou, "dynrcnn/beta": beta, **extra}


def test_final_values_are_those_in_force_after_the_last_logged_iteration(tmp_path):
    lines = [
        _train_line(5, 0.5, 1.0),
        _train_line(10, 0.5, 1.0, **{"dynrcnn/updated_iou_thr": 0.55, "dynrcnn/updated_beta": 0.4}),
        {"coco/bbox_mAP": 0.1, "step": 1},  # a validation line
        _train_line(15, 0.55, 0.4),
        _train_line(20, 0.55, 0.4, **{"dynrcnn/updated_iou_thr": 0.61, "dynrcnn/updated_beta": 0.25}),
    ]
    assert rr.final_dynamic_values(_scalars(tmp_path / "s.json", lines)) == (20, {"iou_thr": 0.61, "beta": 0.25})
    # no update in the last logged iteration: the values in force in it
    assert rr.final_dynamic_values(_scalars(tmp_path / "t.json", lines[:4])) == (15, {"iou_thr": 0.55, "beta": 0.4})


def test_final_values_of_a_log_without_them_are_refused(tmp_path):
    path = _scalars(tmp_path / "s.json", [{"lr": 0.02, "loss": 1.0, "step": 5}])
    with pytest.raises(rr.RunRecordError, match=r"no number dynrcnn/iou_thr: not the scalar log of a Dynamic R-CNN"):
        rr.final_dynamic_values(path)
    with pytest.raises(rr.RunRecordError, match="missing"):
        rr.final_dynamic_values(tmp_path / "none.json")


def test_endpoint_file_round_trip(tmp_path):
    scalars = _scalars(tmp_path / "scalars.json", [_train_line(40, 0.58, 0.3)])
    out = tmp_path / "control" / rr.ENDPOINT_FILE
    out.parent.mkdir()
    record = rr.write_endpoint(out, scalars, "dynamic_rcnn/default/seed0")
    assert rr.read_endpoint(out) == record
    assert record["values"] == {"iou_thr": 0.58, "beta": 0.3} and record["step"] == 40
    assert rr.read_cfg_options_file(out) == rr.control_cfg_options(iou_thr=0.58, beta=0.3)
    # a tampered file (values and options disagree) is refused
    record["values"]["beta"] = 0.9
    out.write_text(json.dumps(record))
    with pytest.raises(rr.RunRecordError, match=r"cfg_options.*do not fix exactly the recorded values.*Delete it"):
        rr.read_endpoint(out)


def test_endpoint_of_unusable_final_values_is_refused(tmp_path):
    scalars = _scalars(tmp_path / "scalars.json", [_train_line(40, 0.58, 0.0)])  # beta 0: no SmoothL1
    with pytest.raises(rr.RunRecordError, match="no usable static control.*beta must be positive"):
        rr.write_endpoint(tmp_path / rr.ENDPOINT_FILE, scalars, "dynamic_rcnn/default/seed0")
    assert not (tmp_path / rr.ENDPOINT_FILE).exists()


def test_cfg_options_file_must_hold_an_object(tmp_path):
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"cfg_options": ["a=1"]}))
    with pytest.raises(rr.RunRecordError, match='no "cfg_options" object'):
        rr.read_cfg_options_file(path)


# ---------------------------------------------------------------------------------------- metrics.json: run.control
def _record(variant, control=None, arm="baseline"):
    per_iou = {k: 0.3 for k in rr.IOU_KEYS}
    run = dict(
        family="synthetic",
        arm=arm,
        variant=variant,
        seed=0,
        dataset="synthetic",
        hyperparameters={"iou_topk": 20, "beta_topk": 6, "update_iter_interval": 20},
    )
    if control is not None:
        run["control"] = control
    metrics = {k: 0.3 for k in rr.SUMMARY_METRICS}
    return dict(run=run, metrics=dict(metrics, AP_at_iou=per_iou), provenance={})


SMOOTH = dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0)
ASSIGNER = dict(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)
ENDPOINT = dict(run="dynamic_rcnn/default/seed0", step=40, values=dict(iou_thr=0.58, beta=0.3))


def test_control_records_of_each_kind_are_complete():
    cases = {
        "beta0.5": (ASSIGNER, dict(SMOOTH, beta=0.5), None),
        "l1": (ASSIGNER, dict(type="L1Loss", loss_weight=1.0), None),
        "iou0.6": (dict(pos_iou_thr=0.6, neg_iou_thr=0.6, min_pos_iou=0.6), SMOOTH, None),
        "static": (dict(pos_iou_thr=0.58, neg_iou_thr=0.58, min_pos_iou=0.58), dict(SMOOTH, beta=0.3), ENDPOINT),
    }
    for variant, (assigner, loss, endpoint) in cases.items():
        block = rr.control_record(variant, assigner, loss, endpoint)
        assert rr.metrics_problem(_record(variant, block)) is None, variant
    assert rr.control_record("beta0.5", ASSIGNER, dict(SMOOTH, beta=0.5)) == dict(
        kind="beta", iou_thr=0.5, beta=0.5, loss="SmoothL1Loss"
    )
    assert rr.control_record("static", ASSIGNER, SMOOTH, ENDPOINT)["endpoint"] == dict(
        run="dynamic_rcnn/default/seed0", step=40, iou_thr=0.58, beta=0.3
    )
    assert rr.control_record("default", ASSIGNER, SMOOTH) is None


@pytest.mark.parametrize(
    "variant, control, arm, message",
    [
        ("beta0.5", None, "baseline", r"run\.control is None, expected an object"),
        ("beta0.5", dict(kind="beta", iou_thr=0.5, beta=1.0, loss="SmoothL1Loss"), "baseline", "fixes 0.5"),
        ("beta0.5", dict(kind="iou", iou_thr=0.5, beta=0.5, loss="SmoothL1Loss"), "baseline", "kind is 'iou'"),
        ("l1", dict(kind="l1", iou_thr=0.5, beta=1.0, loss="L1Loss"), "baseline", "expected null with L1Loss"),
        ("l1", dict(kind="l1", iou_thr=0.5, beta=1.0, loss="SmoothL1Loss"), "baseline", "fixes 'L1Loss'"),
        ("iou0.6", dict(kind="iou", iou_thr=1.5, beta=1.0, loss="SmoothL1Loss"), "baseline", "strictly between"),
        (
            "static",
            dict(kind="static", iou_thr=0.5, beta=1.0, loss="SmoothL1Loss", endpoint=dict(iou_thr=0.58, beta=0.3)),
            "baseline",
            r"run\.control\.iou_thr is 0\.5 but the variant 'static' fixes 0\.58",
        ),
        ("static", dict(kind="static", iou_thr=0.5, beta=1.0, loss="SmoothL1Loss"), "baseline", "endpoint must"),
        ("beta0.5", dict(kind="beta", iou_thr=0.5, beta=0.5, loss="SmoothL1Loss"), "dla", "of arm 'baseline' only"),
        ("default", dict(kind="beta", iou_thr=0.5, beta=0.5, loss="SmoothL1Loss"), "baseline", "is no control"),
    ],
)
def test_inconsistent_control_records_are_refused(variant, control, arm, message, tmp_path):
    record = _record(variant, arm=arm)
    record["run"]["control"] = control
    assert re.search(message, rr.metrics_problem(record))
    with pytest.raises(rr.RunRecordError, match="refusing to write an incomplete metrics record"):
        rr.write_metrics(tmp_path / "metrics.json", record)
