"""The paper's recipe as a config family (coco_r50_fpn_1x_paper) against MMDetection's (coco_r50_fpn_1x).

What every family's configs share (they load and build, the four arms differ only in the two switches, the
hyper-parameters and data paths are overridable) is tested in test_configs.py, which covers this family too.
"""

import copy
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("mmdet")
from mmengine.config import Config  # noqa: E402

from dynrcnn import families as F  # noqa: E402
from dynrcnn.dynamic_settings import settings_of  # noqa: E402
from tests.configs.test_configs import load  # noqa: E402  (loads a config as the training tool does)

REPO = Path(__file__).resolve().parents[2]
PAPER, MMDET = "coco_r50_fpn_1x_paper", "coco_r50_fpn_1x"
DYN = "model.train_cfg.rcnn.dynamic_rcnn"


def flatten(obj, prefix=""):
    """Flat {dotted.key: leaf} view of a resolved config (lists indexed)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    if isinstance(obj, (list, tuple)):
        out = {}
        for i, v in enumerate(obj):
            out.update(flatten(v, f"{prefix}{i}."))
        return out
    return {prefix[:-1]: obj}


def differing_keys(a, b):
    fa, fb = flatten(a.to_dict()), flatten(b.to_dict())
    return {k for k in fa.keys() | fb.keys() if fa.get(k, "<absent>") != fb.get(k, "<absent>")}


def under(key, prefix):
    return key == prefix or key.startswith(prefix + ".")


@pytest.mark.parametrize("arm", ["baseline", "dynamic_rcnn"])
def test_paper_family_differs_from_mmdet_family_in_exactly_the_documented_settings(arm):
    """The two families' resolved configs differ in exactly the keys dynrcnn.families lists for the MMDetection
    recipe's deviations: an undocumented difference, or a documented one that is not there, fails."""
    diff = differing_keys(load(MMDET, arm), load(PAPER, arm))
    documented = [k for d in F.RECIPE_DEVIATIONS for k in d.keys]
    undocumented = sorted(k for k in diff if not any(under(k, p) for p in documented))
    assert undocumented == [], "differences not listed in dynrcnn/families.py RECIPE_DEVIATIONS"
    absent = sorted(p for p in documented if not any(under(k, p) for k in diff))
    assert absent == [], "listed in dynrcnn/families.py RECIPE_DEVIATIONS, but no difference there"


@pytest.mark.parametrize("family", [PAPER, MMDET])
def test_statistics_rule_is_the_documented_one(family):
    # what the head trains with: a config spells only the settings it changes from dynamic_settings.DEFAULTS
    assert settings_of(load(family, "dynamic_rcnn"))["statistics"] == F.FAMILIES[family].statistics


def test_paper_family_is_the_authors_recipe():
    cfg = load(PAPER, "dynamic_rcnn")
    # 90k iterations of 16 images, steps at 60k and 80k, warm-up over 500 iterations from 1/3
    assert cfg.train_cfg == dict(_scope_="mmdet", type="IterBasedTrainLoop", max_iters=90000, val_interval=90000)
    assert cfg.train_dataloader.batch_size == 2 and cfg.auto_scale_lr == dict(enable=True, base_batch_size=16)
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.by_epoch, warmup.begin, warmup.end) == ("LinearLR", False, 0, 500)
    assert math.isclose(warmup.start_factor, 1 / 3)
    assert (steps.type, steps.by_epoch, steps.milestones, steps.gamma) == ("MultiStepLR", False, [60000, 80000], 0.1)
    assert cfg.default_hooks.checkpoint.by_epoch is False and cfg.log_processor.by_epoch is False
    # SGD lr 0.02, momentum 0.9, wd 1e-4; biases at 2 x lr without decay
    assert cfg.optim_wrapper.optimizer == dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001)
    assert cfg.optim_wrapper.paramwise_cfg == dict(bias_lr_mult=2.0, bias_decay_mult=0.0)
    # Caffe2-style ResNet-50, BGR input minus the authors' mean
    model = cfg.model
    assert (model.backbone.depth, model.backbone.style, model.backbone.frozen_stages) == (50, "caffe", 1)
    assert model.backbone.norm_cfg.requires_grad is False and model.backbone.norm_eval is True
    assert model.data_preprocessor.mean == [102.9801, 115.9465, 122.7717]
    assert model.data_preprocessor.std == [1.0, 1.0, 1.0] and model.data_preprocessor.bgr_to_rgb is False
    # RPN: SmoothL1 beta 1/9, NMS 0.85, 2000 per level before NMS, border anchors ignored, low-quality at any IoU
    assert model.rpn_head.loss_bbox.type == "SmoothL1Loss" and math.isclose(model.rpn_head.loss_bbox.beta, 1 / 9)
    assert model.train_cfg.rpn_proposal.nms.iou_threshold == 0.85 and model.test_cfg.rpn.nms.iou_threshold == 0.85
    assert (model.train_cfg.rpn_proposal.nms_pre, model.train_cfg.rpn_proposal.max_per_img) == (2000, 1000)
    assert (model.test_cfg.rpn.nms_pre, model.test_cfg.rpn.max_per_img) == (1000, 1000)
    assert model.train_cfg.rpn.allowed_border == 0 and model.train_cfg.rpn.assigner.min_pos_iou == 0.0
    # R-CNN: SmoothL1 beta 1.0, legacy RoIAlign 2 x 2, the 'official' statistics with the paper's defaults
    assert model.roi_head.bbox_head.loss_bbox == dict(type="SmoothL1Loss", beta=1.0, loss_weight=1.0)
    assert model.roi_head.bbox_roi_extractor.roi_layer == dict(
        type="RoIAlign", output_size=7, sampling_ratio=2, aligned=False
    )
    dyn = settings_of(cfg)  # the paper's K_I, K_beta, C and initial values are dynamic_settings' defaults
    assert (dyn["iou_topk"], dyn["beta_topk"], dyn["update_iter_interval"]) == (75, 10, 100)
    assert (dyn["initial_iou"], dyn["initial_beta"]) == (0.4, 1.0)
    assert dyn["statistics"] == "official" and dyn["sync_across_ranks"] is False


def test_caffe_backbone_is_mmdetections():
    """The backbone settings are those of MMDetection's own Caffe2-style Faster R-CNN config; only the pixel mean is
    the authors' (Detectron's) rather than Detectron2's."""
    caffe = Config.fromstring("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50-caffe_fpn_1x_coco.py'\n", ".py").model
    ours = load(PAPER, "baseline").model
    for key in ("style", "norm_eval", "depth", "frozen_stages"):
        assert ours.backbone[key] == caffe.backbone[key], key
    assert ours.backbone.norm_cfg.requires_grad == caffe.backbone.norm_cfg.requires_grad
    assert ours.backbone.init_cfg == caffe.backbone.init_cfg
    assert ours.data_preprocessor.std == caffe.data_preprocessor.std
    assert ours.data_preprocessor.bgr_to_rgb == caffe.data_preprocessor.bgr_to_rgb
    assert all(abs(a - b) < 1.0 for a, b in zip(ours.data_preprocessor.mean, caffe.data_preprocessor.mean))


def test_caffe_weights_are_configurable():
    cfg = load(PAPER, "dynamic_rcnn", ["model.backbone.init_cfg.checkpoint=/models/resnet50_caffe.pth"])
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint="/models/resnet50_caffe.pth")
    cfg = load(PAPER, "dynamic_rcnn", ["model.backbone.init_cfg.checkpoint=https://example.org/r50_caffe.pth"])
    assert cfg.model.backbone.init_cfg.checkpoint == "https://example.org/r50_caffe.pth"


def _build(model_cfg):
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings

    init_default_scope("mmdet")
    import_modules_from_strings(imports=["dynrcnn.models", "dynrcnn.engine"])
    return MODELS.build(model_cfg)


def test_paper_initialisation_is_the_authors():
    """FPN convs and the box head's FCs: Kaiming-uniform (a = 1), zero biases; cls N(0, 0.01), reg N(0, 0.001)."""
    import torch

    torch.manual_seed(0)
    model_cfg = copy.deepcopy(load(PAPER, "baseline").model)
    model_cfg.backbone.init_cfg = None  # no download
    model = _build(model_cfg)
    model.init_weights()
    head = model.roi_head.bbox_head
    for fc in head.shared_fcs:
        bound = math.sqrt(3 / fc.in_features)  # kaiming_uniform_(a=1): gain 1, bound sqrt(3 / fan_in)
        assert fc.weight.abs().max() <= bound and fc.weight.abs().max() > 0.95 * bound
        assert not fc.bias.any()
    assert abs(head.fc_cls.weight.std().item() - 0.01) < 0.001 and not head.fc_cls.bias.any()
    assert abs(head.fc_reg.weight.std().item() - 0.001) < 0.0001 and not head.fc_reg.bias.any()
    for conv in [*model.neck.lateral_convs, *model.neck.fpn_convs]:
        weight = conv.conv.weight
        bound = math.sqrt(3 / weight[0].numel())
        assert weight.abs().max() <= bound and weight.abs().max() > 0.95 * bound
        assert not conv.conv.bias.any()


def _narrowed(cfg, root, work_dir):
    """The paper config, kept at depth 50 with its settings, made to run a few iterations on the CPU: the synthetic
    dataset (5 classes, 128-px input), a 64-channel FPN, no pretrained weights, 4 iterations, a short interval."""
    from dynrcnn.data.synthetic import CATEGORIES

    for loader, split in (("train_dataloader", "train"), ("val_dataloader", "val"), ("test_dataloader", "val")):
        cfg[loader].update(num_workers=0, persistent_workers=False)
        cfg[loader].dataset.update(
            data_root=root,
            ann_file=f"annotations/instances_{split}.json",
            data_prefix=dict(img=f"{split}/"),
            metainfo=dict(classes=CATEGORIES),
        )
        for step in cfg[loader].dataset.pipeline:
            if step.type == "Resize":
                step.scale = (128, 128)
    for evaluator in ("val_evaluator", "test_evaluator"):
        cfg[evaluator].ann_file = f"{root}annotations/instances_val.json"
    model = cfg.model
    model.backbone.init_cfg = None  # from scratch: no test loads the Caffe2 weights
    model.neck.out_channels = 64
    model.rpn_head.update(in_channels=64, feat_channels=64)
    model.roi_head.bbox_roi_extractor.out_channels = 64
    model.roi_head.bbox_head.update(in_channels=64, fc_out_channels=256, num_classes=len(CATEGORIES))
    # K_beta x images above the ground truths of a batch (errors 0 under 'official'), so beta is updated
    model.train_cfg.rcnn.dynamic_rcnn.update(update_iter_interval=2, iou_topk=5, beta_topk=20)
    model.test_cfg.rcnn.score_thr = 0.0  # an untrained model's detections still reach the metric
    cfg.train_cfg.update(max_iters=4, val_interval=4)
    cfg.default_hooks.checkpoint.interval = 4
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.randomness = dict(seed=0)
    # the Visualizer is a process-wide instance looked up by name: an earlier Runner in this process would
    # otherwise keep receiving this run's scalars
    cfg.visualizer.name = f"visualizer_{Path(work_dir).parent.name}"
    return cfg


@pytest.mark.slow  # a training (ResNet-50 on the CPU)
def test_paper_model_trains_a_few_cpu_iterations(tmp_path):
    """Four iterations of the paper's Dynamic R-CNN through mmengine's runner: iteration-based loop and schedule,
    the bias rule of the optimizer, the 'official' statistics (threshold 0.4 from the first iteration), an update,
    a checkpoint by iteration and the final validation."""
    import torch
    from mmengine.runner import Runner

    from dynrcnn.data.synthetic import generate

    torch.set_num_threads(1)
    root = str(generate(tmp_path / "ds", num_train=8, num_val=2, image_size=128, seed=3)) + "/"
    cfg = _narrowed(load(PAPER, "dynamic_rcnn"), root, tmp_path / "work")
    assert cfg.model.backbone.depth == 50 and cfg.model.backbone.style == "caffe"
    runner = Runner.from_cfg(cfg)
    runner.train()

    lines = [json.loads(line) for line in (Path(runner.log_dir) / "vis_data" / "scalars.json").read_text().splitlines()]
    train = [r for r in lines if "loss" in r]
    assert [r["iter"] for r in train] == [1, 2, 3, 4]
    assert all(math.isfinite(r["loss"]) for r in train)
    assert train[0]["dynrcnn/iou_thr"] == pytest.approx(0.4)  # 'official': initial_iou from the first iteration
    updates = [r for r in train if "dynrcnn/updated_iou_thr" in r]
    assert [r["iter"] for r in updates] == [2, 4]
    assert all(0.4 <= r["dynrcnn/updated_iou_thr"] <= 1 and 0 < r["dynrcnn/updated_beta"] <= 1 for r in updates)
    assert any("coco/bbox_mAP" in r for r in lines)
    assert (tmp_path / "work" / "iter_4.pth").is_file()

    # biases at 2 x lr without weight decay, the other parameters at lr with 1e-4
    group_of = {id(p): g for g in runner.optim_wrapper.optimizer.param_groups for p in g["params"]}
    conv = runner.model.neck.lateral_convs[0].conv
    weight, bias = group_of[id(conv.weight)], group_of[id(conv.bias)]
    assert bias["lr"] == pytest.approx(2 * weight["lr"]) and bias["weight_decay"] == 0
    assert weight["weight_decay"] == pytest.approx(1e-4)
    # the Caffe2-style backbone's BN is frozen, also outside the frozen first stage
    bn = runner.model.backbone.layer3[0].bn1
    assert not bn.weight.requires_grad and not bn.bias.requires_grad
