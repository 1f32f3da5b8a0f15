# Shared base of the `synthetic` family: the embedded default, a small Faster R-CNN
# trained from scratch on the synthetic shapes dataset (dynrcnn.data.synthetic)
# on a 2-core CPU. The four arms (baseline.py, dla.py, dsl.py, dynamic_rcnn.py)
# differ only in model.train_cfg.rcnn.dynamic_rcnn.dynamic_label / dynamic_loss.
#
# Per-run overrides (mmengine --cfg-options, no file edits):
#   dataset root (every path is set explicitly, a derived `data_root` would not reach them):
#     train_dataloader.dataset.data_root=ROOT/ val_dataloader.dataset.data_root=ROOT/
#     test_dataloader.dataset.data_root=ROOT/
#     val_evaluator.ann_file=ROOT/annotations/instances_val.json
#     test_evaluator.ann_file=ROOT/annotations/instances_val.json
#   Dynamic R-CNN hyper-parameters (K_I, K_beta, C):
#     model.train_cfg.rcnn.dynamic_rcnn.iou_topk=30
#     model.train_cfg.rcnn.dynamic_rcnn.beta_topk=8
#     model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=40
#   seed: randomness.seed=1
_base_ = [
    "mmdet::_base_/models/faster-rcnn_r50_fpn.py",
    "mmdet::_base_/default_runtime.py",
]

custom_imports = dict(imports=["dynrcnn.models", "dynrcnn.engine"], allow_failed_imports=False)

# ------------------------------------------------------------------ dataset
# Made by `python -m dynrcnn.data.synthetic --out data/synthetic` (its defaults: the pipeline's dataset,
# dynrcnn.data.synthetic_record.SyntheticConfig; sizes in README "The pipeline").
dataset_type = "CocoDataset"
data_root = "data/synthetic/"
image_size = 128  # what the model sizes below are tuned for; other sizes work unchanged
metainfo = dict(classes=("rectangle", "ellipse", "triangle", "ring", "cross"))
backend_args = None

train_pipeline = [
    dict(type="LoadImageFromFile", backend_args=backend_args),
    dict(type="LoadAnnotations", with_bbox=True),
    # identity resize: the images keep the generator's --image-size; CocoMetric needs scale_factor
    dict(type="Resize", scale_factor=1.0, keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile", backend_args=backend_args),
    dict(type="Resize", scale_factor=1.0, keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
# num_workers=0: on 2 shared cores a loader process only competes with the training
# for a core, and decoding a small PNG is cheap next to a step.
# worker_init_fn (used once num_workers > 0): workers seeded per epoch and rank from the torch RNG, which
# RandomStateHook restores on resume; persistent_workers must stay False for an exact resume.
# batch 4: a step's fixed cost (hooks, assigner, sampler, many small ops) is most of a step here, so 4 images
# cost well under twice the time of 2 (measured: benchmarks/results/README.md, "The synthetic family's settings")
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    worker_init_fn=dict(type="epoch_seeded_worker_init_fn"),
    sampler=dict(type="DefaultSampler", shuffle=True),
    batch_sampler=dict(type="AspectRatioBatchSampler"),
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        filter_cfg=dict(filter_empty_gt=True, min_size=1),
        pipeline=train_pipeline,
        backend_args=backend_args,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        metainfo=metainfo,
        data_root=data_root,
        ann_file="annotations/instances_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type="CocoMetric",
    ann_file=data_root + "annotations/instances_val.json",
    metric="bbox",
    format_only=False,
    backend_args=backend_args,
)
test_evaluator = val_evaluator

# -------------------------------------------------------------------- model
# Narrow ResNet-18 + 4-level FPN, from scratch (no pretrained weights on CPU).
# Sizes chosen for a short step at one CPU thread.
# GroupNorm in the backbone: from scratch with 4 small images per step, BatchNorm's batch statistics are noisy and
# its running statistics lag the weights; GN (as in He et al., "Rethinking ImageNet Pre-training") learned faster
# and has no train/test difference (the step time and the comparison: benchmarks/results/README.md, "The synthetic
# family's settings").
num_classes = 5
fpn_channels = 64
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        base_channels=16,
        frozen_stages=-1,
        norm_cfg=dict(type="GN", num_groups=8, requires_grad=True),
        norm_eval=False,
        init_cfg=None,
    ),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=fpn_channels, num_outs=4),
    rpn_head=dict(
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        # objects are 16-120 px: anchors of 16-128 px on strides 4-32
        anchor_generator=dict(scales=[4], strides=[4, 8, 16, 32]),
    ),
    roi_head=dict(
        type="AblationRoIHead",
        bbox_roi_extractor=dict(
            # one sample per bin: mmcv's CPU RoIAlign forward + backward is costly at 2x2 (measured:
            # benchmarks/results/README.md)
            roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=1),
            out_channels=fpn_channels,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=dict(
            in_channels=fpn_channels,
            fc_out_channels=256,
            num_classes=num_classes,
            # the paper's baseline: SmoothL1 with beta 1.0 (mmdet's Faster R-CNN uses L1)
            loss_bbox=dict(_delete_=True, type="SmoothL1Loss", beta=1.0, loss_weight=1.0),
        ),
    ),
    train_cfg=dict(
        # RPN NMS 0.85 as in the paper; 250 boxes per level into NMS, 200 proposals (fewer than mmdet's
        # 500 / 300: NMS's share of the step, benchmarks/results/README.md)
        rpn_proposal=dict(nms_pre=250, max_per_img=200, nms=dict(iou_threshold=0.85)),
        rcnn=dict(
            # 64 RoIs per image (a quarter positive at most): mmcv's CPU RoIAlign backward grows with the
            # RoIs (measured at 128: benchmarks/results/README.md)
            sampler=dict(num=64),
            # Dynamic R-CNN scaled to this dataset (paper / mmdet COCO: K_I 75, K_beta 10, C 100
            # with 1000 proposals and up to 128 sampled positives per image, 88k iterations):
            # * K_I 15: the K_I-th largest IoU of an image, with 200 instead of 1000 proposals
            #   (75 x 0.2 = 15) the same upper fraction of the proposals.
            # * K_beta 6: the statistic is the (K_beta x images)-th smallest regression error over
            #   the sampled positives, which include each image's ground truths (error 0, 2 to 6 per
            #   image here). K_beta must exceed them or the statistic is 0; 6 (the 24th of
            #   a 4-image batch) puts it at about the 20% quantile of the real positives (at most
            #   12 per image, 64 x 0.25 less the ground truths).
            # * C 10: the run has 450 iterations instead of 88k; 10 gives 45 updates, each a
            #   median / mean over 40 images. C must stay a multiple of the logger interval (5) so
            #   every update iteration is logged.
            # The other settings at their defaults (dynrcnn.dynamic_settings.DEFAULTS: initial IoU 0.4
            # and beta 1.0, MMDetection's statistics per GPU); the arms set dynamic_label / dynamic_loss.
            dynamic_rcnn=dict(iou_topk=15, beta_topk=6, update_iter_interval=10),
        ),
    ),
    # 500 boxes per level, 200 proposals at test time: faster inference than 1000 / 300 at the same AP
    # (measured: benchmarks/results/README.md, "The synthetic family's settings")
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200, nms=dict(iou_threshold=0.85)), rcnn=dict(max_per_img=100)),
)

# ----------------------------------------------------------------- schedule
# 3 epochs (an epoch is the train split over the batch size), lr / 10 for the last epoch: short enough that 3
# seeds per arm fit in the time of the 1-seed default it replaced (README "The pipeline";
# benchmarks/bench_default_pipeline.py)
max_epochs = 3
# validation only at the end (the pipeline evaluates the final checkpoint and draws per-epoch
# detections from the checkpoints); train_cfg.val_interval=1 to follow AP through the run
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="MultiStepLR", begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1),
]
# clip at 10, not MMDetection's 35: from scratch, a gradient spike after the warm-up (norm up to 129) once left
# Dynamic R-CNN's RoI classifier at the background rate for good (1 of 52 trainings); at 10 the same seeds train
# normally, the clip acts on spikes only (norm > 10 at 0.6-2.4 % of logged iterations at 35) and the paired SD of
# the headline's seed differences fell from 1.09 to 0.72 AP over 14 seeds
# (benchmarks/results/2026-12-04_headline_grad_clip.txt)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001),
    clip_grad=dict(max_norm=10, norm_type=2),
)
auto_scale_lr = dict(enable=False, base_batch_size=4)

# ------------------------------------------------------------------ runtime
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=5),
    # every epoch: the pipeline resumes from it and draws per-epoch sample detections
    checkpoint=dict(type="CheckpointHook", interval=1, max_keep_ckpts=-1),
    visualization=dict(type="DetVisualizationHook", draw=False),
)
# RandomStateHook: random-number states in checkpoints, so that a resumed training is bit-identical to the
# uninterrupted one (tests/reliability/test_resume_is_invisible.py)
custom_hooks = [dict(type="DynamicRCNNStatsHook"), dict(type="RandomStateHook")]
log_processor = dict(type="LogProcessor", window_size=5, by_epoch=True)
env_cfg = dict(
    cudnn_benchmark=False, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0), dist_cfg=dict(backend="gloo")
)
randomness = dict(seed=0)
