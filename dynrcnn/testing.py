"""MMDetection's Dynamic R-CNN model config, narrowed for tests and benchmarks.

Tests and benchmarks build their detectors and RoI heads from MMDetection's
own ``dynamic-rcnn_r50_fpn_1x_coco.py`` rather than from a hand-written copy,
so that assigner, sampler, box coder and loss settings are MMDetection's; only
the sizes (depth, widths, classes) and the settings a caller names differ.
"""

import copy
import functools

from mmengine.config import Config, ConfigDict

MMDET_DYNAMIC_RCNN_CONFIG = "mmdet::dynamic_rcnn/dynamic-rcnn_r50_fpn_1x_coco.py"


@functools.lru_cache(maxsize=1)
def _mmdet_model_cfg() -> ConfigDict:
    # Parsing the config chain takes a while; callers get deep copies.
    return Config.fromstring(f"_base_ = '{MMDET_DYNAMIC_RCNN_CONFIG}'\n", ".py").model


def dynamic_rcnn_model_cfg(
    head_type: str = "AblationRoIHead",
    depth: int = 50,
    base_channels: int = 64,
    neck_channels: int = 256,
    num_classes: int = 80,
    **dynamic,
) -> ConfigDict:
    """MMDetection's Dynamic R-CNN R-50-FPN model config, narrowed.

    The backbone is never initialised from pretrained weights (no download).

    Args:
        head_type (str): ``roi_head.type``, e.g. ``'AblationRoIHead'``,
            ``'DynamicRoIHead'`` or ``'StandardRoIHead'``.
        depth (int): ResNet depth (18, 34, 50, ...).
        base_channels (int): ResNet base width (64 in the paper's model).
        neck_channels (int): FPN output width; the RPN, the RoI extractor and
            the box head follow it (fully connected layers 4x as wide).
        num_classes (int): Classes of the box head.
        **dynamic: Overrides of ``train_cfg.rcnn.dynamic_rcnn``.

    Returns:
        ConfigDict: The model config.
    """
    model = copy.deepcopy(_mmdet_model_cfg())
    # ResNet-18/34 (BasicBlock) stages end at base x 2^i channels,
    # ResNet-50+ (Bottleneck, expansion 4) at 4x that.
    expansion = 4 if depth >= 50 else 1
    model.backbone.update(depth=depth, base_channels=base_channels, init_cfg=None)
    model.neck.update(in_channels=[base_channels * 2**i * expansion for i in range(4)], out_channels=neck_channels)
    model.rpn_head.update(in_channels=neck_channels, feat_channels=neck_channels)
    model.roi_head.type = head_type
    model.roi_head.bbox_roi_extractor.out_channels = neck_channels
    model.roi_head.bbox_head.update(
        in_channels=neck_channels, fc_out_channels=4 * neck_channels, num_classes=num_classes
    )
    model.train_cfg.rcnn.dynamic_rcnn.update(dynamic)
    return model


def dynamic_rcnn_roi_head_cfg(
    head_type: str = "AblationRoIHead", channels: int = 256, featmap_strides=None, num_classes: int = 80, **dynamic
) -> ConfigDict:
    """The RoI head of :func:`dynamic_rcnn_model_cfg`, buildable on its own.

    Args:
        head_type (str): ``type`` of the head.
        channels (int): Width of the input features.
        featmap_strides (list[int], optional): Strides of the feature maps
            the head is given; MMDetection's four FPN levels by default.
        num_classes (int): Classes of the box head.
        **dynamic: Overrides of ``train_cfg.dynamic_rcnn``.

    Returns:
        ConfigDict: The head config with its ``train_cfg`` (the model's
        ``train_cfg.rcnn``) and ``test_cfg`` (``test_cfg.rcnn``).
    """
    model = dynamic_rcnn_model_cfg(head_type, neck_channels=channels, num_classes=num_classes, **dynamic)
    head = model.roi_head
    head.train_cfg = model.train_cfg.rcnn
    head.test_cfg = model.test_cfg.rcnn
    if featmap_strides is not None:
        head.bbox_roi_extractor.featmap_strides = list(featmap_strides)
    return head
