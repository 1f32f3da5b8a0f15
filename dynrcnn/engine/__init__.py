"""Training-loop components, registered in MMDetection's registries on import
(``custom_imports = dict(imports=['dynrcnn.engine'])``)."""

from dynrcnn import compat  # noqa: F401

from .hooks import DynamicRCNNStatsHook, RandomStateHook, RunWallTimeHook, TrackingHook
from .loops import ShortEpochTrainLoop
from .vis_backends import FailSafeVisBackend, NoCodeWandbVisBackend

__all__ = [
    "DynamicRCNNStatsHook",
    "FailSafeVisBackend",
    "NoCodeWandbVisBackend",
    "RandomStateHook",
    "RunWallTimeHook",
    "ShortEpochTrainLoop",
    "TrackingHook",
]
