# DSL arm: Dynamic SmoothL1 Loss only (adaptive beta, fixed IoU threshold 0.5).
_base_ = "./_base_.py"
model = dict(train_cfg=dict(rcnn=dict(dynamic_rcnn=dict(dynamic_label=False, dynamic_loss=True))))
