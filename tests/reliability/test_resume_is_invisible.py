"""A training SIGKILLed after a checkpoint and resumed is bit-identical to the uninterrupted run.

Real trainings through ``python -m dynrcnn.tools.train`` on a tiny synthetic dataset (16 train / 4 val images of
64 px, 3 epochs of 8 iterations, validation and checkpoint every epoch, a Dynamic R-CNN update every 2 iterations):
one uninterrupted, one killed right after the validation that follows ``epoch_1.pth``, resumed, killed again after
``epoch_2.pth``, resumed to the end. Every logged series of the merged ``scalars.json`` (losses, lr,
``dynrcnn/iou_thr``, ``dynrcnn/beta``, ..., COCO metrics) and the final checkpoint's weights and dynamic state must
agree exactly. Slow (about 2 minutes on 2 cores): marked ``slow``.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynrcnn.tools.commands import train_command

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
# wall-clock series differ between any two runs
NOT_COMPARED = {"time", "data_time", "eta", "memory"}
CFG_OPTIONS = [
    f"train_cfg.max_epochs={EPOCHS}",
    "train_cfg.val_interval=1",
    "default_hooks.logger.interval=1",
    "model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=2",
]


def train_cmd(config, data_root, work_dir, run_dir, seed=0, options=CFG_OPTIONS, processes=1) -> list[str]:
    """The train tool's command line; ``processes`` > 1 starts it under torchrun on the CPU (gloo)."""
    return train_command(
        config,
        work_dir=work_dir,
        run_dir=run_dir,
        seed=seed,
        data_root=data_root,
        processes=processes,
        cfg_options=options,
        python=sys.executable,
    )


def _env():
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def run_to_end(cmd, log: Path) -> None:
    with open(log, "a") as out:
        proc = subprocess.run(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert proc.returncode == 0, log.read_text()[-5000:]


def _validated(work_dir: Path, epoch: int) -> bool:
    """Whether an attempt in ``work_dir`` has logged the validation of epoch ``epoch`` (mmengine appends each line
    to ``{timestamp}/vis_data/scalars.json`` as it logs it)."""
    for path in work_dir.glob("*/vis_data/scalars.json"):
        for text in path.read_text().splitlines():
            try:
                line = json.loads(text)
            except ValueError:  # a line being written
                continue
            if line.get("step") == epoch and any(k.startswith("coco/") for k in line):
                return True
    return False


def run_and_kill_after_epoch(cmd, work_dir: Path, epoch: int, log: Path) -> None:
    """Start a training and SIGKILL it as soon as epoch ``epoch`` is checkpointed and validated."""
    # the validation follows the checkpoint: waiting for its line in the attempt's scalars keeps the epoch's metrics
    # in the killed attempt's log
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 900
            while not _validated(work_dir, epoch):
                assert proc.poll() is None, f"training ended before epoch {epoch}:\n{log.read_text()[-5000:]}"
                assert time.monotonic() < deadline, "training too slow"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    latest = (work_dir / "last_checkpoint").read_text().strip()
    assert latest.endswith(f"epoch_{epoch}.pth"), f"killed too late: the newest checkpoint is {latest}"


def _series(path: Path) -> dict[tuple, dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    keyed = {}
    for line in lines:
        kind = "train" if "lr" in line else "val"
        keyed[(kind, line["step"])] = {k: v for k, v in line.items() if k not in NOT_COMPARED}
    assert len(keyed) == len(lines), "duplicate steps in the merged scalars"
    return keyed


def largest_differences(reference: Path, other: Path) -> dict[str, float | None]:
    """Per logged series, the largest absolute difference between two ``scalars.json`` (None: missing in one)."""
    a, b = _series(reference), _series(other)
    diffs: dict[str, float | None] = {}
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key, {}), b.get(key, {})
        for name in sorted(set(left) | set(right)):
            if name not in left or name not in right:
                diffs[name] = None
            elif diffs.get(name, 0.0) is not None:
                diffs[name] = max(diffs.get(name, 0.0), abs(float(left[name]) - float(right[name])))
    return diffs


def checkpoint_differences(reference: Path, other: Path) -> dict[str, float]:
    """Largest absolute difference of the weights, the optimizer state and the head's dynamic state."""
    import torch

    import dynrcnn.compat  # noqa: F401  mmengine checkpoints under torch's safe loader

    a, b = (torch.load(p, map_location="cpu") for p in (reference, other))

    def flat(obj, prefix=""):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from flat(v, f"{prefix}{k}.")
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                yield from flat(v, f"{prefix}{i}.")
        elif isinstance(obj, torch.Tensor):
            yield prefix, obj.double()
        elif isinstance(obj, (int, float)):
            yield prefix, torch.tensor(float(obj), dtype=torch.float64)

    out = {}
    for part in ("state_dict", "optimizer", "dynrcnn_state"):
        fa, fb = dict(flat(a[part])), dict(flat(b[part]))
        assert fa.keys() == fb.keys(), part
        out[part] = max((float((fa[k] - fb[k]).abs().max()) if fa[k].numel() else 0.0) for k in fa)
    return out


def compare_resume(tmp_path: Path, config: Path) -> dict[str, float | None]:
    """Train ``config`` uninterrupted and killed + resumed at every checkpoint but the last; return the largest
    difference of every logged series and of the final checkpoint (``ckpt/...``)."""
    from dynrcnn.data.synthetic import generate

    data = generate(tmp_path / "data", num_train=16, num_val=4, image_size=64, seed=0)
    ref_work, ref_run = tmp_path / "uninterrupted" / "work", tmp_path / "uninterrupted" / "run"
    work, run = tmp_path / "resumed" / "work", tmp_path / "resumed" / "run"
    run_to_end(train_cmd(config, data, ref_work, ref_run), tmp_path / "uninterrupted.log")
    log = tmp_path / "resumed.log"
    for epoch in range(1, EPOCHS):
        run_and_kill_after_epoch(train_cmd(config, data, work, run), work, epoch, log)
    run_to_end(train_cmd(config, data, work, run), log)
    assert log.read_text().count("resuming from") == EPOCHS - 1
    diffs = largest_differences(ref_run / "scalars.json", run / "scalars.json")
    final = f"epoch_{EPOCHS}.pth"
    diffs.update({f"ckpt/{k}": v for k, v in checkpoint_differences(ref_work / final, work / final).items()})
    return diffs


def table(diffs: dict[str, float | None]) -> str:
    return "\n".join(f"{name:32s} {'missing' if d is None else f'{d:.3g}'}" for name, d in diffs.items())


@pytest.mark.slow
def test_a_training_killed_at_each_checkpoint_and_resumed_is_the_uninterrupted_run(tmp_path):
    diffs = compare_resume(tmp_path, REPO / "configs" / "synthetic" / "dynamic_rcnn.py")
    print("\nlargest difference, uninterrupted vs killed and resumed:\n" + table(diffs))
    for series in ("loss", "dynrcnn/iou_thr", "dynrcnn/beta", "coco/bbox_mAP", "ckpt/state_dict"):
        assert series in diffs  # the comparison covers what the issue names
    assert all(d == 0.0 for d in diffs.values()), table(diffs)
