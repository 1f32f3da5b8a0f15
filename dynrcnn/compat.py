"""Known incompatibilities of the pinned stack (torch 2.13, mmengine 0.10.7, mmcv 2.1, mmdet 3.3), handled once.

Importing this module (``dynrcnn.models`` and ``dynrcnn.engine`` do) checks the environment and makes mmengine's own
checkpoints loadable again:

* numpy 2: mmcv 2.1 and mmdet 3.3 predate it (compiled ops and ``np.float``-era code paths); a clear error names the
  pin instead of a crash deep inside mmcv.
* setuptools >= 81 removed ``pkg_resources``, which mmengine needs to resolve ``_base_ = 'mmdet::...'``.
* torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine checkpoints pickle a ``MessageHub`` state
  (``HistoryBuffer`` objects holding numpy arrays and references to the buffer's statistics methods). We keep the safe
  loader and allow exactly those globals; ``builtins.getattr`` is mapped to a function that only resolves
  ``HistoryBuffer``'s statistics methods, so an arbitrary pickle still cannot call anything else.
"""

from __future__ import annotations

import importlib.util
import pickle
from typing import Any

import numpy as np

NUMPY_MAX_MAJOR = 1


class EnvironmentIncompatibility(RuntimeError):
    """The installed packages cannot run the pinned MMDetection stack."""


def check_numpy(version: str | None = None) -> None:
    """Reject numpy >= 2 with a message that names the fix.

    Args:
        version (str, optional): Version to check. Defaults to the installed numpy's.

    Raises:
        EnvironmentIncompatibility: If the major version is above 1.
    """
    version = version or np.__version__
    if int(version.split(".")[0]) > NUMPY_MAX_MAJOR:
        raise EnvironmentIncompatibility(
            f"numpy {version} is installed, but mmcv 2.1 / mmdet 3.3 need numpy < 2. "
            'Fix: pip install "numpy==1.26.4" (the pin in requirements/pinned.txt), or rerun '
            "scripts/setup_env.sh."
        )


def check_pkg_resources() -> None:
    """Make sure ``pkg_resources`` exists (mmengine resolves ``mmdet::`` config paths with it).

    Raises:
        EnvironmentIncompatibility: If setuptools is missing or too new to ship ``pkg_resources``.
    """
    # find_spec, not import: importing pkg_resources only to test for it prints a deprecation warning
    if importlib.util.find_spec("pkg_resources") is None:
        raise EnvironmentIncompatibility(
            "pkg_resources is missing (setuptools >= 81 removed it), and mmengine needs it to read "
            'configs that inherit \'_base_ = "mmdet::..."\'. Fix: pip install "setuptools>=77,<81".'
        )


def _history_buffer_statistic(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` inside checkpoints: resolves only ``HistoryBuffer`` statistics methods.

    Args:
        obj: The object whose attribute the pickle asks for.
        name (str): The attribute name.

    Returns:
        The statistics method ``HistoryBuffer.<name>``.
    """
    from mmengine.logging import HistoryBuffer

    # the four built-in statistics are registered lazily (on the first instance), so name them explicitly
    allowed = {"min", "max", "current", "mean", *HistoryBuffer._statistics_methods}
    if obj is HistoryBuffer and name in allowed and hasattr(HistoryBuffer, name):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f"checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics methods are allowed"
    )


def checkpoint_safe_globals() -> list:
    """Globals that mmengine 0.10.7 puts into its checkpoints, for ``torch.serialization.add_safe_globals``.

    Returns:
        list: Classes/functions, and ``(callable, 'module.name')`` pairs.
    """
    from mmengine.logging import HistoryBuffer

    multiarray = np.core.multiarray
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        # a dtype unpickles to its class (numpy.dtypes.Float64DType, ...), which must be allowed too
        *(getattr(np.dtypes, name) for name in np.dtypes.__all__),
        (multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
        (multiarray.scalar, "numpy.core.multiarray.scalar"),
        (_history_buffer_statistic, "builtins.getattr"),
    ]


def allow_mmengine_checkpoints() -> None:
    """Register :func:`checkpoint_safe_globals` with torch's ``weights_only`` loader (idempotent)."""
    import torch

    torch.serialization.add_safe_globals(checkpoint_safe_globals())


def apply() -> None:
    """Run every check and fix of this module. Called on import."""
    check_numpy()
    check_pkg_resources()
    allow_mmengine_checkpoints()


apply()
