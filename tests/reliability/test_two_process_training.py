"""A real 2-process training on CPU (``torchrun``, gloo, DDP on CPU), as the train rule launches it with
``processes_per_job: 2`` or ``gpus_per_job: 2`` on a node without CUDA.

Tiny synthetic dataset (16 train / 5 val images of 64 px: 4 iterations of 2 x 2 images per epoch, an odd val split so
that the validation sampler pads one rank), 2 epochs, ``sync_across_ranks`` on and an update every 3 iterations (one
record per rank is pending at the epoch-1 checkpoint). Checked:

* both ranks train with the same IoU threshold and beta at every iteration (their per-rank logs), from their own
  statistics;
* rank 0 alone writes checkpoints and scalars; the training's validation evaluates every val image exactly once;
* the manifest records 2 processes and the learning rate of MMDetection's ``auto_scale_lr`` rule;
* a training SIGKILLed after the epoch-1 checkpoint and resumed gives every rank its own dynamic state back: the
  per-rank trajectories (values in force, statistics, updates) and the final weights and dynamic state equal the
  uninterrupted run's exactly.

Slow (about a minute on 2 cores): marked ``slow``.
"""

import glob
import json
import os
import pickle
import signal
import subprocess
import time
from pathlib import Path

import pytest

from dynrcnn import processes
from tests.reliability.test_resume_is_invisible import (
    checkpoint_differences as single_process_checkpoint_differences,
)
from tests.reliability.test_resume_is_invisible import train_cmd as single_process_train_cmd

REPO = Path(__file__).resolve().parents[2]
NUM_VAL = 5
CFG_OPTIONS = [
    # 2 images per rank: 16 images make 4 iterations per epoch (the iteration counts asserted below)
    "train_dataloader.batch_size=2",
    "train_cfg.max_epochs=2",
    "train_cfg.val_interval=1",
    "default_hooks.logger.interval=1",
    "model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=3",
    "model.train_cfg.rcnn.dynamic_rcnn.sync_across_ranks=True",
]

pytestmark = pytest.mark.slow


def _config(tmp: Path) -> Path:
    """The dynamic_rcnn arm plus a dump of the validation's gathered predictions (rank 0, after collect_results)."""
    config = tmp / "two_ranks.py"
    config.write_text(
        f"_base_ = [{str(REPO / 'configs' / 'synthetic' / 'dynamic_rcnn.py')!r}]\n"
        "val_evaluator = [\n"
        "    dict(type='CocoMetric', ann_file='set-by-the-tool', metric='bbox'),\n"
        f"    dict(type='DumpDetResults', out_file_path={str(tmp / 'val_predictions.pkl')!r}),\n"
        "]\n"
    )
    return config


def train_cmd(config, data_root, work_dir, run_dir) -> list[str]:
    return single_process_train_cmd(config, data_root, work_dir, run_dir, options=CFG_OPTIONS, processes=2)


def _env():
    return dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )


def run_to_end(cmd, log: Path) -> None:
    with open(log, "a") as out:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert proc.returncode == 0, log.read_text()[-5000:]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_all(proc) -> None:
    """SIGKILL torchrun and every worker at once, as a node failure or a SLURM job kill does; wait until gone."""
    pids = [proc.pid, *processes.descendants(proc.pid)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    deadline = time.monotonic() + 60
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"processes {pids} survived SIGKILL"
        time.sleep(0.05)


def run_and_kill_after_checkpoint(cmd, work_dir: Path, log: Path) -> None:
    """Start the training and SIGKILL torchrun and both ranks once epoch_1.pth is saved."""
    marker = work_dir / "last_checkpoint"
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 900
            while not (marker.exists() and marker.read_text().strip().endswith("epoch_1.pth")):
                assert proc.poll() is None, f"training ended before epoch 1:\n{log.read_text()[-5000:]}"
                assert time.monotonic() < deadline, "training too slow"
                time.sleep(0.02)
        finally:
            _kill_all(proc)
    assert not (work_dir / "epoch_2.pth").exists(), "killed too late"


def rank_logs(work_dir: Path) -> list[list[dict]]:
    logs = []
    for rank in (0, 1):
        path = work_dir / f"dynrcnn_rank{rank}.jsonl"
        logs.append([json.loads(line) for line in path.read_text().splitlines()])
    return logs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """An uninterrupted 2-process training and one killed after epoch 1 and resumed."""
    from dynrcnn.data.synthetic import generate

    tmp = tmp_path_factory.mktemp("two_ranks")
    data = generate(tmp / "data", num_train=16, num_val=NUM_VAL, image_size=64, seed=0)
    config = _config(tmp)
    full = dict(work=tmp / "full" / "work", run=tmp / "full" / "run", log=tmp / "full.log")
    run_to_end(train_cmd(config, data, full["work"], full["run"]), full["log"])
    with open(tmp / "val_predictions.pkl", "rb") as f:
        full["predictions"] = pickle.load(f)
    cut = dict(work=tmp / "cut" / "work", run=tmp / "cut" / "run", log=tmp / "cut.log")
    run_and_kill_after_checkpoint(train_cmd(config, data, cut["work"], cut["run"]), cut["work"], cut["log"])
    run_to_end(train_cmd(config, data, cut["work"], cut["run"]), cut["log"])
    val_ids = sorted(
        img["id"] for img in json.loads((Path(data) / "annotations" / "instances_val.json").read_text())["images"]
    )
    return dict(full=full, cut=cut, val_ids=val_ids)


def test_ranks_share_threshold_and_beta_at_every_iteration(runs):
    rank0, rank1 = rank_logs(runs["full"]["work"])
    assert [x["iter"] for x in rank0] == [x["iter"] for x in rank1] == list(range(1, 9))
    for a, b in zip(rank0, rank1):
        assert (a["iou_thr"], a["beta"]) == (b["iou_thr"], b["beta"]), (a, b)
        assert ("updated_iou_thr" in a) == ("updated_iou_thr" in b) == (a["iter"] % 3 == 0)
    # the ranks see different images: their own statistics differ, the updates are of both
    assert [x["iou_stat"] for x in rank0] != [x["iou_stat"] for x in rank1]
    assert len({(x["iou_thr"], x["beta"]) for x in rank0}) == 3  # start + the updates after iterations 3 and 6


def test_rank_zero_writes_and_validation_sees_each_image_once(runs):
    work, run = runs["full"]["work"], runs["full"]["run"]
    manifest = json.loads((run / "train_manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["gpus"] == 0 and manifest["threads"] == 1
    assert manifest["lr"] == manifest["base_lr"] == 0.02  # auto_scale_lr off in the synthetic family: unscaled
    (scalars,) = glob.glob(str(work / "*" / "vis_data" / "scalars.json"))  # one writer
    steps = [json.loads(line)["step"] for line in Path(scalars).read_text().splitlines() if '"loss"' in line]
    assert steps == list(range(1, 9))
    assert sorted(p.name for p in work.glob("*.pth")) == ["epoch_1.pth", "epoch_2.pth"]
    # DefaultSampler pads 5 images to 3 per rank; the metric's collect_results keeps each image exactly once
    assert sorted(p["img_id"] for p in runs["full"]["predictions"]) == runs["val_ids"]
    assert "Epoch(val) [2][3/3]" in runs["full"]["log"].read_text()  # both ranks ran 3 batches, one padded


def checkpoint_differences(reference: Path, other: Path) -> dict[str, float]:
    """Largest absolute difference of the weights, the optimizer state and every rank's dynamic state (both ranks'
    states are in the checkpoint)."""
    import torch

    import dynrcnn.compat  # noqa: F401  mmengine checkpoints under torch's safe loader

    state = torch.load(reference, map_location="cpu")["dynrcnn_state"]
    assert len(state["ranks"]) == 2 and state["complete"]
    return single_process_checkpoint_differences(reference, other)


def test_killed_and_resumed_two_process_training_is_the_uninterrupted_run(runs):
    cut_log = runs["cut"]["log"].read_text()
    assert "resuming from" in cut_log and "resumed epoch: 1, iter: 4" in cut_log
    assert "DynamicRCNNStatsHook: restored dynamic state" in cut_log  # rank 0 logs it
    assert rank_logs(runs["cut"]["work"]) == rank_logs(runs["full"]["work"])
    diffs = checkpoint_differences(runs["full"]["work"] / "epoch_2.pth", runs["cut"]["work"] / "epoch_2.pth")
    assert diffs == dict(state_dict=0.0, optimizer=0.0, dynrcnn_state=0.0), diffs
