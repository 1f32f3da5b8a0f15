"""Hooks of the Dynamic R-CNN ablation suite."""
from .dynamic_rcnn_stats_hook import DynamicRCNNStatsHook

__all__ = ['DynamicRCNNStatsHook']
