"""Training-loop components, registered in MMDetection's registries on import
(``custom_imports = dict(imports=['dynrcnn.engine'])``)."""

from dynrcnn import compat  # noqa: F401

from .hooks import DynamicRCNNStatsHook, RandomStateHook, RunWallTimeHook

__all__ = ["DynamicRCNNStatsHook", "RandomStateHook", "RunWallTimeHook"]
