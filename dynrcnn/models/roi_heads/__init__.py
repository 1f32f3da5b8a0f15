"""RoI heads of the Dynamic R-CNN ablation suite."""

from .ablation_roi_head import AblationRoIHead

__all__ = ["AblationRoIHead"]
