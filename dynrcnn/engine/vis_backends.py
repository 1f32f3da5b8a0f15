"""Visualization backends of the experiment tracking (:mod:`dynrcnn.tracking`): mmengine's own backends, made safe.

* :class:`FailSafeVisBackend` wraps one backend (mmengine's ``TensorboardVisBackend``, the W&B one below): a
  backend that fails to start (the package missing, ``wandb.init`` raising) or fails later is one warning naming it,
  then left out; the training and the visualizer's other backends (``LocalVisBackend``: the project's own
  ``scalars.json``) go on.
* :class:`NoCodeWandbVisBackend` is mmengine's ``WandbVisBackend`` whose ``add_config`` stores the config only:
  mmengine's also uploads every ``.py`` file below the working directory as a code artifact (a virtual environment
  inside the repository included); the run records the commit instead.
"""

import logging

from mmengine.logging import print_log
from mmengine.registry import VISBACKENDS  # the root registry: found from every scope (mmdet:: included)
from mmengine.visualization.vis_backend import BaseVisBackend, WandbVisBackend, force_init_env


@VISBACKENDS.register_module()
class NoCodeWandbVisBackend(WandbVisBackend):
    """mmengine's ``WandbVisBackend`` without the code upload of ``add_config`` (same arguments)."""

    @force_init_env
    def add_config(self, config, **kwargs) -> None:
        """Record the config in the W&B run's config (``allow_val_change``: a resumed run records it again)."""
        self._wandb.config.update(config.to_dict(), allow_val_change=True)


@VISBACKENDS.register_module()
class FailSafeVisBackend(BaseVisBackend):
    """One visualization backend whose failures never reach the training.

    The wrapped backend is built and started on the first call (as mmengine's backends start themselves: the
    runner's ``add_config`` when it is built). The first exception it raises is logged once as a warning naming the
    backend; every later call is skipped.

    Args:
        save_dir (str, optional): the visualizer's folder (the wrapped backend's default ``save_dir``).
        backend (dict): the wrapped backend's config, e.g. ``dict(type='TensorboardVisBackend', save_dir=...)``.
        label (str, optional): how the warning names it; default: its type. (The visualizer's own ``name`` key,
            for ``Visualizer.get_backend``, is the visualizer's: it never reaches the backend.)
    """

    def __init__(self, save_dir: str | None = None, backend: dict | None = None, label: str | None = None):
        super().__init__(save_dir)
        if not backend or "type" not in backend:
            raise ValueError("FailSafeVisBackend needs backend=dict(type=..., ...)")
        self._backend_cfg = dict(backend)
        self._backend_cfg.setdefault("save_dir", save_dir)
        self.label = label or self._backend_cfg["type"]
        self.backend = None
        self.failed = False

    def _init_env(self) -> None:
        """Nothing: the wrapped backend starts on the first call (inside the guard)."""

    def guarded(self, action):
        """``action(backend)`` on the started backend; None when it failed now or before (then skipped)."""
        if self.failed:
            return None
        try:
            if self.backend is None:
                self.backend = VISBACKENDS.build(self._backend_cfg)
            return action(self.backend)
        except Exception as e:  # noqa: BLE001  any failure of a tracking backend is reported, never raised
            self.failed = True
            print_log(
                f"tracking backend {self.label!r} ({self._backend_cfg['type']}) failed and is switched off: "
                f"{type(e).__name__}: {e}. The training goes on; its own files (scalars.json) are unaffected.",
                logger="current",
                level=logging.WARNING,
            )
            try:
                if self.backend is not None:
                    self.backend.close()
            except Exception:  # noqa: BLE001
                pass
            return None

    @property
    def experiment(self):
        """The wrapped backend's experiment (SummaryWriter, the wandb module); None when it failed."""
        return self.guarded(lambda backend: backend.experiment)

    def add_config(self, config, **kwargs) -> None:
        self.guarded(lambda backend: backend.add_config(config, **kwargs))

    def add_graph(self, model, data_batch, **kwargs) -> None:
        self.guarded(lambda backend: backend.add_graph(model, data_batch, **kwargs))

    def add_image(self, name, image, step=0, **kwargs) -> None:
        self.guarded(lambda backend: backend.add_image(name, image, step, **kwargs))

    def add_scalar(self, name, value, step=0, **kwargs) -> None:
        self.guarded(lambda backend: backend.add_scalar(name, value, step, **kwargs))

    def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs) -> None:
        self.guarded(lambda backend: backend.add_scalars(scalar_dict, step, file_path, **kwargs))

    def close(self) -> None:
        if self.backend is not None:
            self.guarded(lambda backend: backend.close())
