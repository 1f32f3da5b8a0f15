# Shared base of the `coco_r50_fpn_1x_paper` family: the paper's own recipe (the authors' code,
# github.com/hkzhang95/DynamicRCNN, dynamic_rcnn_r50_fpn_1x) as far as MMDetection 3.3 expresses it with its own
# components. It is the `coco_r50_fpn_1x` family (MMDetection's recipe) with each deviation of that recipe from the
# authors' code undone: the two families' resolved configs differ in exactly the keys listed in
# dynrcnn/families.py (RECIPE_DEVIATIONS; tests/configs/test_paper_family.py diffs them). The four arms
# (baseline.py, dla.py, dsl.py, dynamic_rcnn.py) differ only in model.train_cfg.rcnn.dynamic_rcnn.dynamic_label /
# dynamic_loss.
#
# What this family sets as the authors' code has it: the 'official' statistics rule; warm-up from 1/3 x lr;
# 90k iterations with steps at 60k and 80k (iteration-based, 16 images per iteration: 8 GPUs x 2 images); the
# Caffe2-style (MSRA) ResNet-50 with frozen BN and BGR input minus the authors' pixel mean (MMDetection's
# faster-rcnn_r50-caffe_fpn_1x_coco.py backbone, weights open-mmlab://detectron2/resnet50_caffe, converted from
# the same MSRA R-50.pkl); RPN SmoothL1 with beta 1/9; biases at 2 x lr without weight decay; RPN anchors across
# the border ignored; RPN low-quality matches at any IoU; legacy RoIAlign with 2 x 2 samples per bin; Kaiming-
# uniform (a = 1) FPN and box-head FC initialisation. RPN proposals: 2000 per image before NMS (per level) in
# training and 1000 per image in testing are the authors' counts; MMDetection cannot rank them per batch (below).
#
# Deviations from the paper (the authors' code), from dynrcnn/families.py (3):
#   - +1 pixel box convention: width = x2 - x1 in IoUs, box encoding, NMS, anchors and the exported detections;
#     anchors centred on the grid, not quantised (paper: width = x2 - x1 + 1 throughout; Detectron's quantised
#     anchors)
#   - RPN proposals per batch: the top 1000 proposals of each image (paper: the top 2000 of each two-image batch
#     (FPN_POST_NMS_PER_BATCH))
#   - beta guard: a median below 1e-15 keeps the previous beta (both statistics rules) (paper: no guard)
# Their expected effects are in dynrcnn/families.py and the README ("How close to the paper is each family").
#
# Other GPU counts: auto_scale_lr scales the lr linearly with GPUs x images per GPU (base 16), but the schedule
# stays 90k iterations: with fewer than 16 images per iteration the run sees fewer images than the paper's.
# Runs are not bit-reproducible on GPUs (the pipeline trains with deterministic: false), hence 3 seeds.
#
# Per-run overrides (mmengine --cfg-options, no file edits):
#   Caffe2-style ImageNet weights from a local file or another URL (offline clusters):
#     model.backbone.init_cfg.checkpoint=/path/to/resnet50_msra-5891d200.pth
#   dataset root and Dynamic R-CNN hyper-parameters: as in configs/coco_r50_fpn_1x/_base_.py.
_base_ = "../coco_r50_fpn_1x/_base_.py"

# (values written out, not in helper variables: a top-level variable would be a key of the resolved config)
model = dict(
    # Caffe2 (MSRA) weights: BGR input minus the authors' pixel mean, no scaling
    data_preprocessor=dict(mean=[102.9801, 115.9465, 122.7717], std=[1.0, 1.0, 1.0], bgr_to_rgb=False),
    backbone=dict(
        style="caffe",
        norm_cfg=dict(requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type="Pretrained", checkpoint="open-mmlab://detectron2/resnet50_caffe"),
    ),
    # torch.nn.init.kaiming_uniform_(weight, a=1) and zero biases, as the authors' code initialises the FPN convs
    neck=dict(
        init_cfg=dict(
            type="Kaiming",
            layer="Conv2d",
            a=1,
            mode="fan_in",
            nonlinearity="leaky_relu",
            distribution="uniform",
            bias=0,
        )
    ),
    rpn_head=dict(loss_bbox=dict(_delete_=True, type="SmoothL1Loss", beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        # the authors' RoIAlign is maskrcnn-benchmark's legacy kernel (no half-pixel shift), POOLER_SAMPLING_RATIO 2
        bbox_roi_extractor=dict(roi_layer=dict(sampling_ratio=2, aligned=False)),
        # the authors' initialisation: fc6 / fc7 Kaiming-uniform (a = 1), cls_score N(0, 0.01), bbox_pred
        # N(0, 0.001), zero biases (MMDetection's default: Xavier-uniform FCs, the same two normals)
        bbox_head=dict(
            init_cfg=[
                dict(type="Normal", std=0.01, bias=0, override=dict(name="fc_cls")),
                dict(type="Normal", std=0.001, bias=0, override=dict(name="fc_reg")),
                dict(
                    type="Kaiming",
                    a=1,
                    mode="fan_in",
                    nonlinearity="leaky_relu",
                    distribution="uniform",
                    bias=0,
                    override=dict(name="shared_fcs"),
                ),
            ]
        ),
    ),
    train_cfg=dict(
        # STRADDLE_THRESH 0: anchors that cross the image border do not train the RPN;
        # Matcher(allow_low_quality_matches=True): a ground truth's best anchor is positive at any IoU
        rpn=dict(allowed_border=0, assigner=dict(min_pos_iou=0.0)),
        rcnn=dict(dynamic_rcnn=dict(statistics="official")),
    ),
)

# 90k iterations of 16 images, lr x 0.1 at 60k and 80k, linear warm-up over 500 iterations from 1/3 x lr.
# Validation at the end only (as the authors' code); a checkpoint every 7500 iterations (about an epoch).
# (_scope_ as the inherited mmdet config has it, so that the resolved configs differ only in the settings)
train_cfg = dict(_delete_=True, _scope_="mmdet", type="IterBasedTrainLoop", max_iters=90000, val_interval=90000)
param_scheduler = [
    dict(_scope_="mmdet", type="LinearLR", start_factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(_scope_="mmdet", type="MultiStepLR", begin=0, end=90000, by_epoch=False, milestones=[60000, 80000], gamma=0.1),
]
# SOLVER.BIAS_LR_FACTOR 2, SOLVER.WEIGHT_DECAY_BIAS 0 (the frozen BN has no trained biases)
optim_wrapper = dict(paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0))
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=7500))
log_processor = dict(by_epoch=False)
