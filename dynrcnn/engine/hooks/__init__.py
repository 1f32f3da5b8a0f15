"""Hooks of the Dynamic R-CNN ablation suite."""
from .dynamic_rcnn_stats_hook import DynamicRCNNStatsHook
from .random_state_hook import RandomStateHook

__all__ = ['DynamicRCNNStatsHook', 'RandomStateHook']
