"""ShortEpochTrainLoop: an epoch-based training ends after max_iters iterations, in the middle of an epoch, with its
epoch-end checkpoint; the run folder is complete."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmdet")

from dynrcnn import run_record  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # a (3-iteration) training


def test_training_stops_mid_epoch_after_max_iters(tmp_path):
    from dynrcnn.data.synthetic import generate

    data = generate(tmp_path / "data", num_train=8, num_val=2, image_size=96)  # 2 iterations per epoch (4 images)
    run, work = tmp_path / "results" / "runs" / "r", tmp_path / "results" / "work" / "r"
    options = ["train_cfg.type=ShortEpochTrainLoop", "train_cfg.max_iters=3", "train_cfg.val_begin=1000000000"]
    proc = subprocess.run(
        [sys.executable, "-m", "dynrcnn.tools.train", str(REPO / "configs" / "synthetic" / "dynamic_rcnn.py")]
        + ["--work-dir", str(work), "--run-dir", str(run), "--seed", "0", "--data-root", str(data)]
        + ["--threads", "1", "--cfg-options", *options, "default_hooks.logger.interval=1"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    train, val = run_record.read_scalars(run / "scalars.json")
    assert [line["step"] for line in train] == [1, 2, 3] and val == []  # no validation
    manifest = run_record.read_manifest(str(run))
    assert manifest["checkpoint"] == str(work / "epoch_2.pth")  # epoch 2 ended after its first iteration
