"""Hooks of the Dynamic R-CNN ablation suite."""

from .dynamic_rcnn_stats_hook import DynamicRCNNStatsHook
from .random_state_hook import RandomStateHook
from .run_wall_time_hook import RunWallTimeHook
from .tracking_hook import TrackingHook

__all__ = ["DynamicRCNNStatsHook", "RandomStateHook", "RunWallTimeHook", "TrackingHook"]
