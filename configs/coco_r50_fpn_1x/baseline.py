# Baseline arm: fixed IoU threshold (0.5) and fixed SmoothL1 beta (1.0).
_base_ = "./_base_.py"
model = dict(train_cfg=dict(rcnn=dict(dynamic_rcnn=dict(dynamic_label=False, dynamic_loss=False))))
