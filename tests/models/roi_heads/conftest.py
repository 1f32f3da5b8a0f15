"""Tiny CPU fixtures for the RoI head tests: a small FPN-like feature pyramid,
jittered proposals around ground truths, and builders of the heads from one
config dict."""

import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.structures import InstanceData

import dynrcnn.models  # noqa: F401  (registers AblationRoIHead)
from dynrcnn.testing import dynamic_rcnn_roi_head_cfg

register_all_modules()

IMG = 128
STRIDES = (4, 8)
CHANNELS = 4


def head_cfg(head_type="AblationRoIHead", sampler_num=64, **dynamic):
    """MMDetection's Dynamic R-CNN RoI head config, narrowed to the tiny
    features below, with ``dynamic`` overriding ``train_cfg.dynamic_rcnn``
    and a smaller sampler (``sampler_num`` RoIs per image)."""
    dyn = dict(iou_topk=5, beta_topk=6, update_iter_interval=3, initial_iou=0.4, initial_beta=1.0)
    dyn.update(dynamic)
    cfg = dynamic_rcnn_roi_head_cfg(head_type, channels=CHANNELS, featmap_strides=STRIDES, num_classes=3, **dyn)
    cfg.train_cfg.sampler.num = sampler_num
    return cfg


def build_heads(*types, **dynamic):
    """Build heads of the given types from one config, with equal weights."""
    heads = []
    for head_type in types:
        torch.manual_seed(0)
        heads.append(MODELS.build(head_cfg(head_type, **dynamic)))
    for head in heads[1:]:
        head.load_state_dict(heads[0].state_dict())
    return heads


def make_batch(seed, num_imgs=2, num_gts=(3, 2), num_props=40, jitter=0.3):
    """Features, proposals and data samples of one iteration.

    Proposals are ground truths jittered by up to ``jitter`` times the box
    size plus random boxes, so that IoUs spread over (0, 1).

    Returns:
        tuple: ``x``, ``rpn_results_list``, ``batch_data_samples``.
    """
    g = torch.Generator().manual_seed(seed)
    x = tuple(torch.rand(num_imgs, CHANNELS, IMG // s, IMG // s, generator=g) for s in STRIDES)
    props, samples = [], []
    for i in range(num_imgs):
        n_gt = num_gts[i % len(num_gts)]
        xy = torch.rand(n_gt, 2, generator=g) * (IMG - 48)
        wh = 16 + torch.rand(n_gt, 2, generator=g) * 32
        gts = torch.cat([xy, xy + wh], dim=1)
        sample = DetDataSample(
            metainfo=dict(img_shape=(IMG, IMG), ori_shape=(IMG, IMG), scale_factor=(1.0, 1.0), pad_shape=(IMG, IMG))
        )
        sample.gt_instances = InstanceData(bboxes=gts, labels=torch.randint(0, 3, (n_gt,), generator=g))
        samples.append(sample)
        boxes = []
        if n_gt:
            num_near = num_props // 2
            idx = torch.randint(0, n_gt, (num_near,), generator=g)
            size = (gts[idx, 2:] - gts[idx, :2]).repeat(1, 2)
            noise = (torch.rand(num_near, 4, generator=g) * 2 - 1) * jitter
            boxes.append(gts[idx] + noise * size)
        num_rand = num_props - sum(len(b) for b in boxes)
        xy = torch.rand(num_rand, 2, generator=g) * (IMG - 40)
        wh = 8 + torch.rand(num_rand, 2, generator=g) * 32
        boxes.append(torch.cat([xy, xy + wh], dim=1))
        boxes = torch.cat(boxes).clamp(0, IMG)
        # keep boxes valid after clamping
        boxes[:, 2:] = torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        props.append(InstanceData(bboxes=boxes, scores=torch.rand(len(boxes), generator=g)))
    return x, props, samples


def run_iters(head, batches, first_iter=0):
    """Run ``head.loss`` on each batch (RNG seeded by iteration) and return
    per-iteration records: threshold and beta in force, losses, and the
    values after the iteration."""
    out = []
    for i, (x, props, samples) in enumerate(batches, start=first_iter):
        rec = dict(thr=float(head.bbox_assigner.pos_iou_thr), beta=float(head.bbox_head.loss_bbox.beta))
        torch.manual_seed(1000 + i)
        losses = head.loss(x, copy.deepcopy(props), samples)
        rec["losses"] = {k: v.detach().clone() for k, v in losses.items()}
        rec["thr_after"] = float(head.bbox_assigner.pos_iou_thr)
        rec["beta_after"] = float(head.bbox_head.loss_bbox.beta)
        rec["log"] = dict(getattr(head, "last_log", {}))
        out.append(rec)
    return out


@pytest.fixture
def batches():
    return [make_batch(seed) for seed in range(8)]


@pytest.fixture
def roi():
    """The helpers above (test modules cannot import a conftest under
    ``--import-mode=importlib``)."""
    import types

    return types.SimpleNamespace(head_cfg=head_cfg, build_heads=build_heads, make_batch=make_batch, run_iters=run_iters)
