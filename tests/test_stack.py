"""The pinned MMDetection stack works on CPU: compiled mmcv ops, and a two-stage detector from an mmdet config that
trains one step and runs inference on a generated image."""

import math

import pytest
import torch

import dynrcnn.compat  # noqa: F401  (the project's fixes are active, as in every project entry point)


def test_mmcv_compiled_ops_run_on_cpu():
    from mmcv.ops import nms, roi_align

    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    feats = torch.arange(16.0).view(1, 1, 4, 4)
    rois = torch.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]])
    pooled = roi_align(feats, rois, (2, 2), 1.0, 2, "avg", True)
    assert pooled.shape == (1, 1, 2, 2)
    # RoIAlign over the whole map averages each quadrant of the 4x4 ramp
    assert pooled.flatten().tolist() == pytest.approx([2.5, 4.5, 10.5, 12.5])


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    register_all_modules()
    # inherit MMDetection's own config the way the project's configs do (needs pkg_resources)
    config_file = tmp_path_factory.mktemp("cfg") / "faster_rcnn.py"
    config_file.write_text("_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'\n")
    cfg = Config.fromfile(config_file)
    # a narrow ResNet-18 from scratch keeps the step fast on CPU; no pretrained weights can be downloaded here
    cfg.model.backbone.update(depth=18, base_channels=16, init_cfg=None, norm_eval=False)
    cfg.model.neck.update(in_channels=[16, 32, 64, 128], out_channels=32)
    cfg.model.rpn_head.update(in_channels=32, feat_channels=32)
    cfg.model.roi_head.bbox_roi_extractor.update(out_channels=32)
    cfg.model.roi_head.bbox_head.update(in_channels=32, fc_out_channels=64, num_classes=3)
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # an untrained detector's scores are low: keep its boxes to check them
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def _batch(size=96):
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    image = torch.zeros(3, size, size, dtype=torch.uint8)
    image[:, 20:60, 30:80] = 200  # one bright rectangle on black
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            scale_factor=(1.0, 1.0),
            pad_shape=(size, size),
            batch_input_shape=(size, size),
        )
    )
    sample.gt_instances = InstanceData(bboxes=torch.tensor([[30.0, 20.0, 80.0, 60.0]]), labels=torch.tensor([1]))
    return dict(inputs=[image], data_samples=[sample])


def test_two_stage_detector_trains_one_step_and_predicts_on_cpu(detector):
    from mmengine.optim import build_optim_wrapper

    optim_wrapper = build_optim_wrapper(detector, dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9)))
    detector.train()
    before = [p.detach().clone() for p in detector.parameters()]
    log_vars = detector.train_step(_batch(), optim_wrapper)
    for name in ("loss", "loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"):
        assert math.isfinite(float(torch.as_tensor(log_vars[name]).detach())), (name, log_vars[name])
    assert any(not torch.equal(b, p) for b, p in zip(before, detector.parameters())), "the step changed nothing"

    detector.eval()
    (result,) = detector.val_step(_batch())
    pred = result.pred_instances
    n = len(pred)
    assert pred.bboxes.shape == (n, 4) and pred.scores.shape == (n,) and pred.labels.shape == (n,)
    assert 0 < n <= 100  # test_cfg.rcnn.max_per_img
    assert torch.isfinite(pred.bboxes).all() and (pred.bboxes[:, 2:] >= pred.bboxes[:, :2]).all()
    assert pred.bboxes.min() >= 0 and pred.bboxes.max() <= 96
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all()
    assert ((pred.labels >= 0) & (pred.labels < 3)).all()
