# Dynamic R-CNN arm: DLA and DSL together (the paper's method).
_base_ = "./_base_.py"
model = dict(train_cfg=dict(rcnn=dict(dynamic_rcnn=dict(dynamic_label=True, dynamic_loss=True))))
