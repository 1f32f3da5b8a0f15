# Shared base of the `coco_r50_fpn_1x` family: the paper's setting (Dynamic R-CNN,
# ECCV 2020, R-50-FPN 1x on COCO). The four arms (baseline.py, dla.py, dsl.py,
# dynamic_rcnn.py) differ only in model.train_cfg.rcnn.dynamic_rcnn.dynamic_label /
# dynamic_loss, so every arm shares the paper's baseline changes:
#   * R-CNN head SmoothL1 (beta 1.0) instead of mmdet's L1,
#   * RPN NMS IoU 0.85 instead of 0.7, in training and testing,
# both inherited from mmdet's own Dynamic R-CNN config. Schedule: mmdet's 1x
# (8 GPUs x 2 images, SGD lr 0.02, 500 warm-up iterations, 12 epochs, steps at 8 and 11).
#
# Other GPU counts: auto_scale_lr is enabled with base_batch_size 16, so the lr is
# scaled linearly with GPUs x images per GPU (e.g. 1 GPU x 2 images -> lr 0.0025).
#
# Per-run overrides (mmengine --cfg-options, no file edits):
#   ImageNet weights from a local file (offline clusters; default torchvision://resnet50):
#     model.backbone.init_cfg.checkpoint=/path/to/resnet50-0676ba61.pth
#   dataset root (every path is set explicitly, a derived `data_root` would not reach them):
#     train_dataloader.dataset.data_root=/data/coco/ val_dataloader.dataset.data_root=/data/coco/
#     test_dataloader.dataset.data_root=/data/coco/
#     val_evaluator.ann_file=/data/coco/annotations/instances_val2017.json
#     test_evaluator.ann_file=/data/coco/annotations/instances_val2017.json
#   Dynamic R-CNN hyper-parameters (paper defaults K_I 75, K_beta 10, C 100):
#     model.train_cfg.rcnn.dynamic_rcnn.iou_topk=50
#     model.train_cfg.rcnn.dynamic_rcnn.beta_topk=15
#     model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=100
_base_ = 'mmdet::dynamic_rcnn/dynamic-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['dynrcnn.models', 'dynrcnn.engine'], allow_failed_imports=False)

data_root = 'data/coco/'
# Workers seeded per epoch and rank from the torch RNG, which RandomStateHook restores on resume; persistent
# workers (mmdet's default) would be seeded once per attempt, so a resumed training would restart their streams.
train_dataloader = dict(
    persistent_workers=False,
    worker_init_fn=dict(type='epoch_seeded_worker_init_fn'),
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator

model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    roi_head=dict(type='AblationRoIHead'),
    train_cfg=dict(
        rcnn=dict(
            dynamic_rcnn=dict(
                iou_topk=75,
                beta_topk=10,
                update_iter_interval=100,
                initial_iou=0.4,
                initial_beta=1.0,
                dynamic_label=True,
                dynamic_loss=True,
                # MMDetection's DynamicRoIHead semantics ('official': the authors' code); per-GPU
                # statistics as in both implementations
                statistics='mmdet',
                sync_across_ranks=False))))

# RandomStateHook: random-number states in checkpoints, so that a resumed training is bit-identical to the
# uninterrupted one
custom_hooks = [dict(type='DynamicRCNNStatsHook'), dict(type='RandomStateHook')]
auto_scale_lr = dict(enable=True, base_batch_size=16)
