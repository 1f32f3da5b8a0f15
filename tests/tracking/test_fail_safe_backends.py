"""A tracking backend that fails never breaks the training: one warning naming it, then it is left out, and the
visualizer's other backends (the project's own scalars.json) go on."""

import json
import sys

import pytest

pytest.importorskip("mmdet")

from mmengine.registry import VISBACKENDS  # noqa: E402
from mmengine.visualization import BaseVisBackend, Visualizer  # noqa: E402
from mmengine.visualization.vis_backend import force_init_env  # noqa: E402

import dynrcnn.engine  # noqa: E402, F401  registers FailSafeVisBackend


@VISBACKENDS.register_module(force=True)
class _BrokenVisBackend(BaseVisBackend):
    """Starts like a backend whose service is down."""

    starts = 0

    def _init_env(self):
        type(self).starts += 1
        raise ConnectionError("no route to the tracking server")

    @property
    def experiment(self):
        return None

    @force_init_env
    def add_scalars(self, scalar_dict, step=0, file_path=None, **kwargs):
        raise AssertionError("never reached: the backend does not start")


def _visualizer(tmp_path, name, backend):
    return Visualizer(
        name=name,
        save_dir=str(tmp_path),
        vis_backends=[
            dict(type="LocalVisBackend"),
            dict(type="FailSafeVisBackend", name="tracker", label="tracker", backend=backend),
        ],
    )


@pytest.fixture
def mmengine_log(caplog):
    """The records of mmengine's current logger (it does not propagate to the root logger)."""
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def _warnings(log):
    return [r.getMessage() for r in log.records if r.levelname == "WARNING" and "tracking backend" in r.getMessage()]


def _log_some(visualizer):
    visualizer.add_scalars({"loss": 1.0}, step=1)
    visualizer.add_scalars({"loss": 0.5}, step=2)
    visualizer.add_image("samples/a.png", __import__("numpy").zeros((4, 4, 3), dtype="uint8"), step=1)
    visualizer.close()


def test_a_backend_failing_to_start_is_one_warning_and_the_local_files_go_on(tmp_path, mmengine_log):
    visualizer = _visualizer(tmp_path, "broken", dict(type="_BrokenVisBackend"))
    _log_some(visualizer)
    (warning,) = _warnings(mmengine_log)
    assert "'tracker' (_BrokenVisBackend) failed" in warning and "no route to the tracking server" in warning
    assert _BrokenVisBackend.starts == 1  # left out after the failure
    lines = [json.loads(line) for line in (tmp_path / "vis_data" / "scalars.json").read_text().splitlines()]
    assert lines == [{"loss": 1.0, "step": 1}, {"loss": 0.5, "step": 2}]


def test_wandb_not_installed_is_one_warning(tmp_path, mmengine_log, monkeypatch, offline_wandb):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    visualizer = _visualizer(tmp_path, "no_wandb", dict(type="NoCodeWandbVisBackend", init_kwargs=dict(mode="offline")))
    _log_some(visualizer)
    (warning,) = _warnings(mmengine_log)
    assert "'tracker' (NoCodeWandbVisBackend) failed" in warning and "pip install wandb" in warning
    assert len((tmp_path / "vis_data" / "scalars.json").read_text().splitlines()) == 2
