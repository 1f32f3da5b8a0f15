"""dynrcnn.pipeline: the control runs of config['controls'] (baseline variants), their cfg options, the errors, the
runs not trained twice, and the static endpoint's dependency on the full run."""

import pytest

from dynrcnn.pipeline import PipelineConfigError, Run, build

ASSIGNER = "model.train_cfg.rcnn.assigner"
LOSS = "model.roi_head.bbox_head.loss_bbox"


def _controls(**controls):
    return dict(controls=controls)


def _control_variants(plan):
    return [run.variant for run in plan.runs if run.arm == "baseline" and run.variant != "default"]


def test_no_controls_by_default(make_config):
    plan = build(make_config("default.yaml"))
    assert plan.config["controls"] == dict(betas=[], l1=False, iou_thresholds=[], static_endpoint=False)
    assert plan.control_runs() == [] and all(run.variant == "default" for run in plan.runs)


def test_control_runs_and_their_cfg_options(make_config):
    controls = _controls(betas=[0.5, 2], l1=True, iou_thresholds=[0.6, 0.7], static_endpoint=True)
    plan = build(make_config("tiny.yaml", seeds=[0, 1], **controls))
    variants = ["beta0.5", "beta2.0", "l1", "iou0.6", "iou0.7", "static"]
    # the arms' runs first, then each control once per seed, all of the baseline arm
    assert plan.runs[:4] == [Run(arm, "default", seed) for arm in ("baseline", "dynamic_rcnn") for seed in (0, 1)]
    assert plan.runs[4:] == [Run("baseline", v, seed) for v in variants for seed in (0, 1)]
    assert plan.notices == []
    tail = ["train_cfg.max_epochs=2", "train_cfg.val_interval=1"]
    assert plan.cfg_options("beta0.5") == [f"{LOSS}.beta=0.5"] + tail
    assert plan.cfg_options("beta2.0") == [f"{LOSS}.beta=2.0"] + tail
    assert plan.cfg_options("l1") == [f"{LOSS}._delete_=True", f"{LOSS}.type=L1Loss", f"{LOSS}.loss_weight=1.0"] + tail
    assert (
        plan.cfg_options("iou0.6")
        == [
            f"{ASSIGNER}.pos_iou_thr=0.6",
            f"{ASSIGNER}.neg_iou_thr=0.6",
            f"{ASSIGNER}.min_pos_iou=0.6",
        ]
        + tail
    )
    # the static endpoint's values are not known when the DAG is built: they come from its endpoint file
    assert plan.cfg_options("static") == tail
    assert plan.cfg_options("default") == tail
    # the control runs are report inputs and targets like every run
    assert "results/runs/synthetic/baseline/iou0.7/seed1/metrics.json" in plan.report_inputs["metrics"]
    assert "results/runs/synthetic/baseline/static/seed0/epoch_detections" in plan.final_targets


def test_static_endpoint_depends_on_the_full_run_of_its_seed(make_config):
    plan = build(make_config("tiny.yaml", seeds=[3, 5], **_controls(static_endpoint=True)))
    assert [run for run in plan.runs if run.variant == "static"] == [
        Run("baseline", "static", 3),
        Run("baseline", "static", 5),
    ]
    endpoint = "results/runs/synthetic/baseline/static/seed5/endpoint.json"
    assert plan.endpoint_file(5) == endpoint
    assert plan.endpoint_source("5") == "results/runs/synthetic/dynamic_rcnn/default/seed5/scalars.json"
    assert plan.control_inputs("static", "5") == [endpoint]
    assert plan.control_args("static", "5") == f"--cfg-options-file {endpoint}"
    for variant in ("default", "beta0.5", "ki1-kb2-c3"):
        assert plan.control_inputs(variant, "5") == [] and plan.control_args(variant, "5") == ""


def test_values_of_the_baseline_are_not_trained_twice(make_config):
    controls = _controls(betas=[1.0, 0.5], iou_thresholds=[0.5])
    plan = build(make_config("tiny.yaml", **controls))
    assert _control_variants(plan) == ["beta0.5"]
    assert plan.notices == [
        "controls.betas: 1.0 is the baseline's own SmoothL1 beta (configs/synthetic/baseline.py): not trained twice, "
        "the baseline run stands for it",
        "controls.iou_thresholds: 0.5 is the baseline's own IoU threshold (configs/synthetic/baseline.py): not "
        "trained twice, the baseline run stands for it",
    ]


def test_coco_controls_config(make_config, fake_coco):
    plan = build(make_config("coco_1x_controls.yaml", dataset={"name": "coco", "root": str(fake_coco)}))
    assert sorted(set(_control_variants(plan))) == sorted(["beta0.5", "beta2.0", "l1", "iou0.6", "iou0.7", "static"])
    assert len(plan.runs) == 4 * 3 + 6 * 3 and plan.notices == []


def test_synthetic_controls_config(make_config):
    plan = build(make_config("controls.yaml"))
    assert sorted(set(_control_variants(plan))) == sorted(["beta0.5", "beta2.0", "l1", "iou0.6", "iou0.7", "static"])
    assert len(plan.runs) == 4 * 3 + 6 * 3 and plan.notices == []


@pytest.mark.parametrize(
    "override, message",
    [
        (
            _controls(iou_thresholds=[0.6, 1.2]),
            r"^controls\.iou_thresholds\[1\]: 1\.2 is greater than or equal to the maximum of 1 \(every key",
        ),
        (_controls(iou_thresholds=[0]), r"^controls\.iou_thresholds\[0\]: 0 is less than or equal to the minimum of 0"),
        (_controls(betas=[-0.5]), r"^controls\.betas\[0\]: -0\.5 is less than or equal to the minimum of 0"),
        (_controls(betas=[0]), r"^controls\.betas\[0\]: 0 is less than or equal to the minimum of 0"),
        (_controls(betas=[0.5, 0.5]), r"^controls\.betas: \[0\.5, 0\.5\] has non-unique elements"),
        (_controls(l1="yes"), r"^controls\.l1: 'yes' is not of type 'boolean'"),
        (_controls(static=True), r"^controls: Additional properties are not allowed \('static' was unexpected\)"),
        (
            dict(arms=["baseline", "dla"], **_controls(static_endpoint=True)),
            r"^controls\.static_endpoint is true but arms has no 'dynamic_rcnn'.*add dynamic_rcnn to arms or set "
            r"controls\.static_endpoint: false$",
        ),
        (
            dict(arms=["dynamic_rcnn"], **_controls(betas=[0.5])),
            r"^controls are set but arms has no 'baseline'.*add baseline to arms or empty controls$",
        ),
        (
            dict(train={"cfg_options": [f"{ASSIGNER}.pos_iou_thr=0.6"]}, **_controls(l1=True)),
            r"^train\.cfg_options\[0\] 'model\.train_cfg\.rcnn\.assigner\.pos_iou_thr=0\.6': "
            r"model\.train_cfg\.rcnn\.assigner is what the controls fix",
        ),
        (
            dict(train={"cfg_options": ["a.b=1", f"{LOSS}=None"]}, **_controls(static_endpoint=True)),
            r"^train\.cfg_options\[1\] .*model\.roi_head\.bbox_head\.loss_bbox is what the controls fix",
        ),
    ],
)
def test_bad_controls_are_one_line_errors(make_config, override, message):
    with pytest.raises(PipelineConfigError, match=message) as info:
        build(make_config("default.yaml", **override))
    assert "\n" not in str(info.value)


def test_assigner_options_without_controls_are_left_alone(make_config):
    plan = build(make_config("tiny.yaml", train={"cfg_options": [f"{ASSIGNER}.pos_iou_thr=0.6"]}))
    assert f"{ASSIGNER}.pos_iou_thr=0.6" in plan.cfg_options("default")
