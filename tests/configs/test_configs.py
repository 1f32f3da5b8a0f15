"""Tests of the MMDetection configs of the four arms in both families."""

import argparse
import copy
import json
from pathlib import Path

import pytest

pytest.importorskip("mmdet")
from mmengine.config import Config, DictAction  # noqa: E402

from dynrcnn.dynamic_settings import settings_of  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FAMILIES = ("coco_r50_fpn_1x", "coco_r50_fpn_1x_paper", "synthetic")
ARMS = {
    "baseline": (False, False),
    "dla": (True, False),
    "dsl": (False, True),
    "dynamic_rcnn": (True, True),
}
DYN = "model.train_cfg.rcnn.dynamic_rcnn"
PATH_KEYS = (
    "train_dataloader.dataset.data_root",
    "val_dataloader.dataset.data_root",
    "test_dataloader.dataset.data_root",
    "val_evaluator.ann_file",
    "test_evaluator.ann_file",
)


def load(family: str, arm: str, options=()) -> Config:
    """Load a config as the training tool does, with ``--cfg-options`` strings."""
    cfg = Config.fromfile(str(REPO / "configs" / family / f"{arm}.py"))
    if options:
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest="opts")(None, ns, list(options))
        cfg.merge_from_dict(ns.opts)
    return cfg


def get(cfg, dotted: str):
    node = cfg
    for key in dotted.split("."):
        node = node[key]
    return node


def flatten(obj, prefix=""):
    """Flat {dotted.key: leaf} view of a resolved config (lists indexed)."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
    else:
        out[prefix[:-1]] = obj
    return out


def strip_init_cfg(model_cfg):
    """Model config without pretrained weights (no downloads in tests)."""
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.backbone.init_cfg = None
    return model_cfg


def build_model(cfg):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    init_default_scope("mmdet")
    import_modules_from_strings(**cfg.custom_imports)
    return MODELS.build(strip_init_cfg(cfg.model))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("arm", ARMS)
def test_config_loads_and_builds(family, arm):
    cfg = load(family, arm)
    assert cfg.custom_imports == dict(imports=["dynrcnn.models", "dynrcnn.engine"], allow_failed_imports=False)
    assert [h.type for h in cfg.custom_hooks] == ["DynamicRCNNStatsHook", "RandomStateHook"]
    assert cfg.model.roi_head.type == "AblationRoIHead"
    assert (get(cfg, DYN).dynamic_label, get(cfg, DYN).dynamic_loss) == ARMS[arm]
    model = build_model(cfg)
    head = model.roi_head
    assert type(head).__name__ == "AblationRoIHead"
    assert head.train_cfg.dynamic_rcnn.dynamic_label is ARMS[arm][0]
    assert head.train_cfg.dynamic_rcnn.dynamic_loss is ARMS[arm][1]
    # the paper's baseline in every arm: SmoothL1 beta 1.0 and RPN NMS 0.85 (train and test)
    assert type(head.bbox_head.loss_bbox).__name__ == "SmoothL1Loss"
    assert head.bbox_head.loss_bbox.beta == 1.0
    assert cfg.model.train_cfg.rpn_proposal.nms.iou_threshold == 0.85
    assert cfg.model.test_cfg.rpn.nms.iou_threshold == 0.85
    assert cfg.model.train_cfg.rcnn.assigner.pos_iou_thr == 0.5


@pytest.mark.parametrize("family", FAMILIES)
def test_arms_differ_only_in_the_two_switches(family):
    flat = {arm: flatten(load(family, arm).to_dict()) for arm in ARMS}
    base = flat["baseline"]
    for arm, (label, loss) in ARMS.items():
        diff = {k for k in set(base) | set(flat[arm]) if base.get(k) != flat[arm].get(k)}
        expected = {f"{DYN}.dynamic_label"} if label else set()
        expected |= {f"{DYN}.dynamic_loss"} if loss else set()
        assert diff == expected, arm
        assert flat[arm][f"{DYN}.dynamic_label"] is label
        assert flat[arm][f"{DYN}.dynamic_loss"] is loss


@pytest.mark.parametrize("family", FAMILIES)
def test_hyperparameters_overridable(family):
    options = [f"{DYN}.iou_topk=50", f"{DYN}.beta_topk=15", f"{DYN}.update_iter_interval=7"]
    cfg = load(family, "dynamic_rcnn", options)
    dyn = get(cfg, DYN)
    assert (dyn.iou_topk, dyn.beta_topk, dyn.update_iter_interval) == (50, 15, 7)
    # the switches survive the override
    assert dyn.dynamic_label is True and dyn.dynamic_loss is True
    head = build_model(cfg).roi_head
    assert head.train_cfg.dynamic_rcnn.iou_topk == 50
    assert head.train_cfg.dynamic_rcnn.update_iter_interval == 7


@pytest.mark.parametrize(
    "family, default_root",
    [("coco_r50_fpn_1x", "data/coco/"), ("coco_r50_fpn_1x_paper", "data/coco/"), ("synthetic", "data/synthetic/")],
)
def test_every_data_path_set_explicitly_and_overridable(family, default_root):
    cfg = load(family, "baseline")
    for key in PATH_KEYS:
        assert get(cfg, key).startswith(default_root), key
    root = "/elsewhere/ds/"
    val_ann = root + "annotations/val.json"
    options = [f"{k}={root}" for k in PATH_KEYS if k.endswith("data_root")]
    options += [f"val_evaluator.ann_file={val_ann}", f"test_evaluator.ann_file={val_ann}"]
    cfg = load(family, "baseline", options)
    for key in PATH_KEYS:
        assert get(cfg, key).startswith(root), key
    # nothing still points at the default root after the documented overrides
    leftovers = [
        k
        for k, v in flatten(cfg.to_dict()).items()
        if isinstance(v, str) and default_root.rstrip("/") in v and k != "data_root"
    ]
    assert leftovers == []


def test_coco_family_is_the_papers_setting():
    cfg = load("coco_r50_fpn_1x", "dynamic_rcnn")
    assert cfg.model.backbone.depth == 50
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint="torchvision://resnet50")
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.train_cfg.max_epochs == 12
    steps = [s for s in cfg.param_scheduler if s.type == "MultiStepLR"]
    assert [s.milestones for s in steps] == [[8, 11]]
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
    dyn = settings_of(cfg)  # what the head trains with: the config relies on the defaults
    assert (dyn["iou_topk"], dyn["beta_topk"], dyn["update_iter_interval"], dyn["initial_iou"]) == (75, 10, 100, 0.4)
    assert (dyn["initial_beta"], dyn["statistics"]) == (1.0, "mmdet")
    local = load("coco_r50_fpn_1x", "dynamic_rcnn", ["model.backbone.init_cfg.checkpoint=/models/resnet50.pth"])
    assert local.model.backbone.init_cfg.checkpoint == "/models/resnet50.pth"


def test_synthetic_family_matches_the_generator(tmp_path):
    """The synthetic config reads the generator's dataset through mmdet's CocoDataset."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from dynrcnn.data.synthetic import CATEGORIES, SyntheticConfig, generate

    cfg = load("synthetic", "dynamic_rcnn")
    assert tuple(cfg.metainfo.classes) == CATEGORIES
    assert cfg.model.roi_head.bbox_head.num_classes == len(CATEGORIES)
    assert cfg.image_size == SyntheticConfig().image_size
    assert cfg.model.backbone.init_cfg is None  # from scratch: no download on CPU machines
    assert cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.default_hooks.checkpoint.interval == 1
    dyn = get(cfg, DYN)
    assert cfg.default_hooks.logger.interval <= dyn.update_iter_interval
    assert dyn.update_iter_interval % cfg.default_hooks.logger.interval == 0

    root = generate(tmp_path / "ds", num_train=3, num_val=2, seed=1)
    init_default_scope("mmdet")
    for loader in ("train_dataloader", "val_dataloader"):
        ds_cfg = copy.deepcopy(cfg[loader].dataset)
        ds_cfg.data_root = str(root) + "/"
        dataset = DATASETS.build(ds_cfg)
        n = json.loads((root / "annotations" / f"instances_{loader[: -len('_dataloader')]}.json").read_text())["images"]
        assert len(dataset) == len(n)
        item = dataset[0]
        assert item["inputs"].shape[-2:] == (cfg.image_size, cfg.image_size)
        assert len(item["data_samples"].gt_instances) > 0

    # another --image-size is read as it is (the pipeline's identity resize does not rescale it)
    small = generate(tmp_path / "small", num_train=1, num_val=1, image_size=64, seed=1)
    ds_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    ds_cfg.data_root = str(small) + "/"
    item = DATASETS.build(ds_cfg)[0]
    assert item["inputs"].shape[-2:] == (64, 64)
    assert item["data_samples"].scale_factor == (1.0, 1.0)


@pytest.mark.slow  # a training
def test_synthetic_smoke_training(tmp_path):
    """A few iterations of the synthetic Dynamic R-CNN config train, log and evaluate."""
    import torch
    from mmengine.runner import Runner

    from dynrcnn.data.synthetic import generate

    torch.set_num_threads(1)
    root = str(generate(tmp_path / "ds", num_train=16, num_val=2, seed=2)) + "/"
    options = [f"{k}={root}" for k in PATH_KEYS if k.endswith("data_root")]
    options += [
        f"val_evaluator.ann_file={root}annotations/instances_val.json",
        "train_cfg.max_epochs=1",
        "train_cfg.val_interval=1",
        "default_hooks.logger.interval=1",
        f"{DYN}.update_iter_interval=2",
        f"{DYN}.iou_topk=1",
    ]
    cfg = load("synthetic", "dynamic_rcnn", options)
    cfg.work_dir = str(tmp_path / "work")
    runner = Runner.from_cfg(cfg)
    runner.train()
    lines = [json.loads(line) for line in (Path(runner.log_dir) / "vis_data" / "scalars.json").read_text().splitlines()]
    train = [r for r in lines if "loss" in r]
    assert len(train) == 4  # 16 images, batch 4, logged every iteration
    assert all("dynrcnn/iou_thr" in r and "dynrcnn/beta" in r for r in train)
    assert any("dynrcnn/updated_iou_thr" in r for r in train)
    assert any("coco/bbox_mAP_50" in r for r in lines)
    assert (tmp_path / "work" / "epoch_1.pth").is_file()
