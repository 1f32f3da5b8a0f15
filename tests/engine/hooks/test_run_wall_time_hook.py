"""RunWallTimeHook: the wall time of all attempts of a training, in the work dir's wall_time.json."""

import json
from types import SimpleNamespace

import pytest

pytest.importorskip("mmdet")

import dynrcnn.engine  # noqa: F401,E402  registers the hooks
from dynrcnn.engine.hooks import RunWallTimeHook, run_wall_time_hook  # noqa: E402


def _clock(monkeypatch, times):
    ticks = iter(times)
    monkeypatch.setattr(run_wall_time_hook.time, "time", lambda: next(ticks))


def _seconds(work):
    return json.loads((work / "wall_time.json").read_text())["seconds"]


def test_wall_time_adds_up_over_attempts(tmp_path, monkeypatch):
    runner = SimpleNamespace(work_dir=str(tmp_path))
    # attempt 1: starts at 100, epoch 1 ends at 110, killed during epoch 2
    _clock(monkeypatch, [100.0, 110.0])
    hook = RunWallTimeHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    assert _seconds(tmp_path) == 10.0
    # attempt 2 (resumed): starts at 500, epoch 2 ends at 507, training ends at 508
    _clock(monkeypatch, [500.0, 507.0, 508.0])
    hook = RunWallTimeHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    assert _seconds(tmp_path) == 17.0
    hook.after_train(runner)
    assert _seconds(tmp_path) == 18.0


def test_registered_and_lowest_priority():
    from mmdet.registry import HOOKS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("mmdet"):
        hook = HOOKS.build(dict(type="RunWallTimeHook"))
    assert isinstance(hook, RunWallTimeHook) and hook.priority == "LOWEST"
