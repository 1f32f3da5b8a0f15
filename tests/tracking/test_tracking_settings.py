"""dynrcnn.tracking without a training: the pipeline's switch, the train tool's arguments, the W&B mode decision,
the run's identity and id, the backend configs."""

import argparse

import pytest

from dynrcnn import tracking
from dynrcnn.pipeline import PipelineConfigError, build, validate


def test_no_tracking_by_default(make_config):
    config = validate(make_config("tiny.yaml"))
    assert config["tracking"] == dict(
        backends=[], wandb=dict(project="dynamic-rcnn-ablation", entity=None, tags=[], mode="offline")
    )
    assert build(config).tracking_args == ""


def test_the_switch_becomes_the_train_tools_arguments(make_config):
    plan = build(
        make_config(
            "tiny.yaml", tracking=dict(backends=["tensorboard", "wandb"], wandb=dict(project="p", tags=["a b"]))
        )
    )
    assert plan.tracking_args == "--tracking tensorboard,wandb --wandb-project p --wandb-tag 'a b' --wandb-mode offline"
    plan = build(make_config("tiny.yaml", tracking=dict(backends=["tensorboard"], wandb=dict(entity="team"))))
    assert plan.tracking_args == "--tracking tensorboard"  # the W&B settings only with the W&B backend
    # the tracking is not part of any run's mmengine config (it would supersede the work dirs)
    assert not [o for run in plan.runs for o in plan.cfg_options(run.variant) if "visualizer" in o]


@pytest.mark.parametrize(
    "override, message",
    [
        (
            dict(backends=["tensorboard", "mlflow"]),
            r"^tracking\.backends\[1\]: 'mlflow' is not one of \['tensorboard', 'wandb'\]",
        ),
        (dict(backends=["wandb"], wandb=dict(mode="cloud")), r"^tracking\.wandb\.mode: 'cloud' is not one of"),
    ],
)
def test_a_bad_tracking_setting_is_one_line_naming_it(make_config, override, message):
    with pytest.raises(PipelineConfigError, match=message):
        validate(make_config("tiny.yaml", tracking=override))


def test_visualizer_backends_are_not_a_cfg_option(make_config):
    config = make_config("tiny.yaml", train=dict(cfg_options=["visualizer.vis_backends.0.type=WandbVisBackend"]))
    with pytest.raises(PipelineConfigError, match=r"set by dynrcnn\.tools\.train from tracking\.backends"):
        validate(config)


def _parser():
    parser = argparse.ArgumentParser()
    tracking.add_arguments(parser)
    return parser


def test_train_tool_arguments(capsys):
    args = _parser().parse_args(["--tracking", "wandb,tensorboard,wandb", "--wandb-tag", "x", "--wandb-tag", "y"])
    assert args.tracking == ["wandb", "tensorboard"] and args.wandb_tag == ["x", "y"]
    assert args.wandb_mode == "offline" and args.wandb_project == "dynamic-rcnn-ablation"
    assert _parser().parse_args([]).tracking == [] and _parser().parse_args(["--tracking", "none"]).tracking == []
    with pytest.raises(SystemExit):
        _parser().parse_args(["--tracking", "tensorbord"])
    assert "unknown tracking backend tensorbord; choose from tensorboard, wandb" in capsys.readouterr().err


def test_wandb_is_online_only_when_asked_for_and_logged_in(tmp_path):
    no_netrc = str(tmp_path / "none")
    assert tracking.wandb_mode("online", {"WANDB_API_KEY": "k"}, no_netrc) == ("online", None)
    mode, notice = tracking.wandb_mode("online", {}, no_netrc)
    assert mode == "offline" and "no credentials" in notice and "wandb sync" in notice
    mode, notice = tracking.wandb_mode("offline", {"WANDB_API_KEY": "k"}, no_netrc)
    assert mode == "offline" and "wandb sync" in notice
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password secret\n")
    netrc.chmod(0o600)
    assert tracking.wandb_mode("online", {}, str(netrc))[0] == "online"
    # a netrc entry for another W&B server does not log in to this one
    assert tracking.wandb_mode("online", {"WANDB_BASE_URL": "https://wandb.example.org"}, str(netrc))[0] == "offline"


def test_run_identity_from_the_run_folder():
    assert tracking.run_identity("results/runs/synthetic/dla/ki30-kb8-c40/seed2", "configs/synthetic/dla.py", 2) == (
        dict(family="synthetic", arm="dla", variant="ki30-kb8-c40", seed=2)
    )
    assert tracking.run_identity("/tmp/elsewhere", "configs/coco_r50_fpn_1x/dsl.py", 0) == dict(
        family="coco_r50_fpn_1x", arm="dsl", variant="default", seed=0
    )


def test_a_resumed_training_keeps_its_wandb_run_id(tmp_path):
    first = tracking.wandb_run_id(str(tmp_path), resuming=False)
    assert tracking.wandb_run_id(str(tmp_path), resuming=True) == first
    assert tracking.wandb_run_id(str(tmp_path), resuming=False) != first  # a training started over: a new run


def test_wandb_backend_groups_the_runs_by_arm_and_variant():
    identity = dict(family="synthetic", arm="dla", variant="default", seed=3)
    (tb, wb) = tracking.vis_backends(
        ["tensorboard", "wandb"],
        work_dir="w",
        identity=identity,
        provenance=dict(commit="abc"),
        run_id="id1",
        wandb_options=dict(project="p", tags=["extra"]),
        mode="online",
    )
    assert tb == dict(
        type="FailSafeVisBackend",
        name="tensorboard",
        label="tensorboard",
        backend=dict(type="TensorboardVisBackend", save_dir="w/tracking/tensorboard"),
    )
    init = wb["backend"]["init_kwargs"]
    assert wb["backend"]["type"] == "NoCodeWandbVisBackend"
    assert (init["group"], init["job_type"], init["name"]) == ("dla/default", "train", "dla/default/seed3")
    assert init["tags"] == ["synthetic", "dla", "default", "seed3", "extra"]
    assert (init["id"], init["resume"], init["mode"], init["dir"]) == ("id1", "allow", "online", "w/tracking")
    assert init["config"] == dict(run=identity, provenance=dict(commit="abc"))
