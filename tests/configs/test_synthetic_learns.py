"""The embedded default learns: a full training of the synthetic Dynamic R-CNN arm.

Slow (a full training of the default schedule): marked ``slow`` so that the fast unit tests skip it; ``make test``
(and CI) runs it.
"""

import json
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_default_dynamic_rcnn_arm_learns(tmp_path, default_synthetic_dataset, cpu_share):
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from dynrcnn.dynamic_settings import settings_of

    torch.set_num_threads(cpu_share)
    root = str(default_synthetic_dataset) + "/"
    cfg = Config.fromfile(str(REPO / "configs" / "synthetic" / "dynamic_rcnn.py"))
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.data_root = root
    cfg.val_evaluator.ann_file = root + "annotations/instances_val.json"
    cfg.work_dir = str(tmp_path / "work")
    # the Visualizer is a process-wide instance looked up by name: an earlier Runner in this process would
    # otherwise keep receiving this run's scalars
    cfg.visualizer.name = f"visualizer_{tmp_path.name}"
    runner = Runner.from_cfg(cfg)
    runner.train()

    rows = [json.loads(line) for line in (Path(runner.log_dir) / "vis_data" / "scalars.json").read_text().splitlines()]
    val = [r for r in rows if "coco/bbox_mAP_50" in r]
    assert val[-1]["coco/bbox_mAP_50"] >= 0.5
    # an untuned detector localises coarsely: AP75 clearly below AP50
    assert val[-1]["coco/bbox_mAP_75"] < val[-1]["coco/bbox_mAP_50"] - 0.1
    train = [r for r in rows if "dynrcnn/iou_thr" in r]
    dyn = settings_of(cfg)  # the config's settings, the head's defaults filled
    first_thr = train[0]["dynrcnn/iou_thr"]
    assert max(r["dynrcnn/iou_thr"] for r in train) > max(first_thr, dyn["initial_iou"])
    assert min(r["dynrcnn/beta"] for r in train) < dyn["initial_beta"] == 1.0
