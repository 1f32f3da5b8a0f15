"""dynrcnn.evaluation.inference: test runners made one after another in one process stay independent."""

import shutil
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

REPO = Path(__file__).resolve().parents[2]


def test_a_later_runner_does_not_reuse_an_earlier_runners_folder(tmp_path):
    from mmengine.config import Config

    from dynrcnn.evaluation.inference import build_test_runner
    from dynrcnn.tools.train import set_data_paths

    cfg = Config.fromfile(str(REPO / "configs" / "synthetic" / "dynamic_rcnn.py"))
    set_data_paths(cfg, str(tmp_path / "data"), "synthetic")  # runners build their loaders lazily: no data needed
    scratch = tmp_path / "scratch"
    first, _ = build_test_runner(cfg, "unused.pth", str(scratch))
    shutil.rmtree(scratch)  # as evaluate and detect_epochs remove their scratch folder
    # in the same second as the first, as two quick runners of one process are
    second, _ = build_test_runner(cfg, "unused.pth", str(scratch))
    assert second.experiment_name != first.experiment_name
    assert second.visualizer is not first.visualizer and second.logger is not first.logger
    assert Path(second.log_dir).is_dir()
