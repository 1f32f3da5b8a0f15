"""dynrcnn.testing: MMDetection's Dynamic R-CNN config, narrowed."""

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import dynrcnn.models  # noqa: F401
from dynrcnn.testing import MMDET_DYNAMIC_RCNN_CONFIG, dynamic_rcnn_model_cfg, dynamic_rcnn_roi_head_cfg

register_all_modules()


def mmdet_model():
    return Config.fromstring(f"_base_ = '{MMDET_DYNAMIC_RCNN_CONFIG}'\n", ".py").model.to_dict()


def test_full_size_differs_from_mmdet_only_in_head_type_and_init():
    ours = dynamic_rcnn_model_cfg().to_dict()
    ref = mmdet_model()
    assert ours["roi_head"].pop("type") == "AblationRoIHead"
    assert ref["roi_head"].pop("type") == "DynamicRoIHead"
    assert ours["backbone"].pop("init_cfg") is None  # no download
    assert ours["backbone"].pop("base_channels") == 64  # ResNet's default
    ref["backbone"].pop("init_cfg")
    assert ours == ref


def test_overrides_and_callers_get_copies():
    cfg = dynamic_rcnn_model_cfg(iou_topk=3, update_iter_interval=7)
    cfg.train_cfg.rcnn.sampler.num = 1
    dyn = dynamic_rcnn_model_cfg().train_cfg.rcnn
    assert cfg.train_cfg.rcnn.dynamic_rcnn.iou_topk == 3
    assert dyn.dynamic_rcnn.iou_topk == 75 and dyn.sampler.num == 512


@pytest.mark.parametrize("depth,base", [(18, 8), (50, 4)])
def test_narrowed_detector_builds_and_runs(depth, base):
    torch.manual_seed(0)
    model = MODELS.build(
        dynamic_rcnn_model_cfg("StandardRoIHead", depth=depth, base_channels=base, neck_channels=8, num_classes=2)
    )
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.rand(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == [8] * 5


def test_roi_head_cfg_carries_rcnn_train_and_test_cfg():
    head = dynamic_rcnn_roi_head_cfg("DynamicRoIHead", channels=4, featmap_strides=(4, 8), beta_topk=2)
    assert head.train_cfg.dynamic_rcnn.beta_topk == 2
    assert head.train_cfg.assigner.type == "MaxIoUAssigner"
    assert head.test_cfg.max_per_img == 100
    assert head.bbox_roi_extractor.featmap_strides == [4, 8]
    assert MODELS.build(head).bbox_head.fc_cls.in_features == 16
