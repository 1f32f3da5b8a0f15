"""The plan of an acceptance check config: every arm once (variant 'check', the first seed) with the short schedule,
no sweeps, controls, evaluation or report; the check's verdict is the only target."""

import importlib.util

import pytest

from dynrcnn.pipeline import Run, build

pytestmark = pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="mmdet is not installed")
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")


def test_synthetic_check_plan(make_config):
    plan = build(make_config("check.yaml"))
    assert plan.runs == [Run(arm, "check", 0) for arm in ARMS]
    assert plan.cfg_options("check") == [
        "train_cfg.type=ShortEpochTrainLoop",
        "train_cfg.max_iters=300",
        "train_cfg.val_begin=1000000000",
    ]
    assert plan.final_targets == ["results/check/synthetic.passed"]
    assert not plan.report_enabled and plan.epoch_detection_runs == []
    assert plan.check_dir == "reports/synthetic_check"
    assert plan.check_settings() == dict(update_interval=10, initial_beta=1.0)
    assert "dynamic_rcnn=results/runs/synthetic/dynamic_rcnn/check/seed0:results/work/synthetic/dynamic_rcnn/" in (
        plan.check_runs_args()
    )


def test_a_check_ignores_sweeps_controls_and_extra_seeds(make_config):
    config = make_config("check.yaml", seeds=[3, 4], controls=dict(l1=True))
    config["sweeps"] = dict(iou_topk=[20], arms=["dynamic_rcnn"])
    plan = build(config)
    assert plan.runs == [Run(arm, "check", 3) for arm in ARMS]


def test_coco_check_plan(make_config, fake_coco):
    plan = build(make_config("coco_check.yaml", dataset=dict(name="coco", root=str(fake_coco))))
    assert plan.runs == [Run(arm, "check", 0) for arm in ARMS]
    assert "train_cfg.max_iters=500" in plan.cfg_options("check")
    assert "train_dataloader.batch_size=2" in plan.cfg_options("check")
    assert plan.train_resources()["gpu"] == 8 and plan.train_processes == 8
    assert plan.check_settings() == dict(update_interval=100, initial_beta=1.0)


def test_an_iteration_based_family_keeps_its_loop(make_config, fake_coco):
    config = make_config("coco_check.yaml", dataset=dict(name="coco", root=str(fake_coco)))
    plan = build(dict(config, family="coco_r50_fpn_1x_paper"))
    assert plan.cfg_options("check")[:2] == ["train_cfg.max_iters=500", "train_cfg.val_begin=1000000000"]
    assert not any("ShortEpochTrainLoop" in o for o in plan.cfg_options("check"))
