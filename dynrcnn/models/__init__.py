"""Model components, registered in MMDetection's registries on import
(``custom_imports = dict(imports=['dynrcnn.models'])``)."""

from dynrcnn import compat  # noqa: F401

from .roi_heads import AblationRoIHead

__all__ = ["AblationRoIHead"]
