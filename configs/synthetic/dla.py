# DLA arm: Dynamic Label Assignment only (adaptive IoU threshold, fixed SmoothL1 beta).
_base_ = "./_base_.py"
model = dict(train_cfg=dict(rcnn=dict(dynamic_rcnn=dict(dynamic_label=True, dynamic_loss=False))))
