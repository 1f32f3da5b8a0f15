"""A real tiny training tracked with TensorBoard and W&B (offline), killed after its first epoch and resumed: the
tracked runs hold what the run's own scalars.json holds, continue across the attempts, and leave the run folder as it
is without tracking. No network: W&B is offline, without credentials, its folders in a scratch folder."""

import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("mmdet")
pytest.importorskip("tensorboard")
pytest.importorskip("wandb")
pytestmark = pytest.mark.slow  # real trainings

from dynrcnn import run_record, tracking  # noqa: E402
from dynrcnn.tools.commands import train_command  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 2
CFG_OPTIONS = [
    f"train_cfg.max_epochs={EPOCHS}",
    "train_cfg.val_interval=1",
    "default_hooks.logger.interval=1",
    "model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=2",
]
#: wall-clock series (and mmengine's val lines log time/data_time at step=epoch, colliding with the iterations')
NOT_COMPARED = {"step", "time", "data_time", "eta", "memory"}


def train_cmd(config, data, work, run, tracking_args, epochs=EPOCHS):
    options = [o if not o.startswith("train_cfg.max_epochs") else f"train_cfg.max_epochs={epochs}" for o in CFG_OPTIONS]
    return train_command(
        config,
        work_dir=work,
        run_dir=run,
        seed=0,
        data_root=data,
        cfg_options=options,
        extra=tracking_args,
        python=sys.executable,
    )


def _env(extra, pythonpath=()):
    path = os.pathsep.join([*map(str, pythonpath), str(REPO), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, **extra, PYTHONPATH=path)


def _val_line(work, epoch):
    """The validation line of ``epoch`` in the attempt's scalars.json, or None before it is there."""
    for path in glob.glob(str(work / "*" / "vis_data" / "scalars.json")):
        for line in Path(path).read_text().splitlines():
            if line.strip() and "coco/bbox_mAP" in line:
                values = json.loads(line)
                if values["step"] == epoch:
                    return values
    return None


def _val_logged(work, epoch):
    """Epoch ``epoch``'s validation is in scalars.json and in the TensorBoard events on disk. TensorBoard's writer
    queues events and writes them as more come (training goes on) or on close: a SIGKILL before that loses what it
    still holds, which no tracking can keep, so the test kills only once they are written."""
    line = _val_line(work, epoch)
    if line is None or not glob.glob(str(work / tracking.TENSORBOARD_DIR / "events.out.tfevents.*")):
        return False
    series, _ = _tensorboard_series(work / tracking.TENSORBOARD_DIR)
    return all(epoch in series.get(tag, {}) for tag in line if tag.startswith("coco/"))


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, wandb_env):
    """dynamic_rcnn on 16 train / 4 val images of 64 px, 2 epochs (8 iterations each), every iteration logged,
    validated after each epoch; SIGKILLed once epoch 1 is checkpointed and validated (its values on disk), then resumed
    to the end."""
    from dynrcnn.data.synthetic import generate

    root = tmp_path_factory.mktemp("tracked")
    data = generate(root / "data", num_train=16, num_val=4, image_size=64, seed=0)
    work = root / "results" / "work" / "synthetic" / "dynamic_rcnn" / "default" / "seed0"
    run = root / "results" / "runs" / "synthetic" / "dynamic_rcnn" / "default" / "seed0"
    args = ["--tracking", "tensorboard,wandb", "--wandb-tag", "test"]
    cmd = train_cmd(REPO / "configs" / "synthetic" / "dynamic_rcnn.py", data, work, run, args)
    log = root / "train.log"
    with open(log, "a") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=_env(wandb_env), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 900
            while not _val_logged(work, 1):
                assert proc.poll() is None, f"training ended before epoch 1 was validated:\n{log.read_text()[-5000:]}"
                assert time.monotonic() < deadline, "training too slow"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert (work / "last_checkpoint").read_text().strip().endswith("epoch_1.pth"), "killed too late"
    with open(log, "a") as out:
        done = subprocess.run(cmd, cwd=REPO, env=_env(wandb_env), stdout=out, stderr=subprocess.STDOUT, timeout=900)
    assert done.returncode == 0, log.read_text()[-5000:]
    assert log.read_text().count("resuming from") == 1
    return work, run, log


def _scalar_lines(run):
    train, val = run_record.read_scalars(run / "scalars.json")
    return train, val


def _expected_series(run):
    """{tag: {step: value}} of the run's merged scalars.json."""
    series = {}
    for line in [*_scalar_lines(run)[0], *_scalar_lines(run)[1]]:
        for key, value in line.items():
            if key not in NOT_COMPARED:
                assert line["step"] not in series.setdefault(key, {}), (key, line["step"])
                series[key][line["step"]] = value
    return series


def _tensorboard_series(path):
    """{tag: {step: value}} of TensorBoard event files (a step logged again by a later attempt: the later value),
    read with tensorboard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    accumulator.Reload()
    series = {}
    for tag in accumulator.Tags()["scalars"]:
        for event in sorted(accumulator.Scalars(tag), key=lambda e: e.wall_time):
            series.setdefault(tag, {})[event.step] = event.value
    return series, accumulator


def test_tensorboard_holds_every_logged_value_of_scalars_json(tracked):
    work, run, _ = tracked
    series, accumulator = _tensorboard_series(work / tracking.TENSORBOARD_DIR)
    expected = _expected_series(run)
    for tag in ("loss", "lr", "dynrcnn/iou_thr", "dynrcnn/beta", "dynrcnn/pos_per_img", "coco/bbox_mAP"):
        assert tag in series, sorted(series)
    train, val = _scalar_lines(run)
    assert sorted(series["dynrcnn/iou_thr"]) == [line["step"] for line in train]  # one value per logged iteration
    assert sorted(series["coco/bbox_mAP"]) == list(range(1, EPOCHS + 1)) == [line["step"] for line in val]
    assert len(set(series["dynrcnn/iou_thr"].values())) > 1 and len(set(series["dynrcnn/beta"].values())) > 1
    for tag, values in expected.items():
        assert series[tag].keys() == values.keys(), tag
        for step, value in values.items():  # TensorBoard stores float32
            assert series[tag][step] == pytest.approx(value, rel=1e-6, abs=1e-7), (tag, step)
    # per-epoch sample pictures of the first 4 val images, and the provenance text
    tags = accumulator.Tags()
    assert len(tags["images"]) == tracking.SAMPLE_IMAGES
    assert [e.step for e in accumulator.Images(tags["images"][0])] == list(range(1, EPOCHS + 1))
    assert "provenance/text_summary" in tags["tensors"]


def test_a_resumed_training_continues_the_tensorboard_steps(tracked):
    work, run, _ = tracked
    files = sorted(glob.glob(str(work / tracking.TENSORBOARD_DIR / "events.out.tfevents.*")))
    assert len(files) == 2  # one per attempt, in the one folder TensorBoard shows as one run
    first, _ = _tensorboard_series(files[0])
    second, _ = _tensorboard_series(files[1])
    train, _ = _scalar_lines(run)
    per_epoch = len(train) // EPOCHS
    assert min(second["loss"]) == per_epoch + 1  # the resumed attempt starts after the checkpoint of epoch 1
    assert sorted(first["coco/bbox_mAP"]) == [1] and sorted(second["coco/bbox_mAP"]) == [2]


def _wandb_records(run_folder):
    """The records of an offline W&B run's ``run-{id}.wandb`` file, read with wandb's own reader."""
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal.datastore import DataStore

    (path,) = glob.glob(os.path.join(run_folder, "run-*.wandb"))
    store = DataStore()
    store.open_for_scan(path)
    records = []
    while (data := store.scan_data()) is not None:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(data)
        records.append(record)
    return records


def _items(updates):
    return {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in updates}


def test_wandb_offline_run_holds_the_final_metrics_and_the_provenance(tracked):
    work, run, _ = tracked
    run_id = (work / tracking.WANDB_RUN_ID_FILE).read_text().strip()
    folders = sorted(glob.glob(str(work / tracking.WANDB_ROOT / "wandb" / "offline-run-*")))
    assert len(folders) == 2 and all(f.endswith(f"-{run_id}") for f in folders)  # both attempts: the same run
    train, val = _scalar_lines(run)
    manifest = run_record.read_manifest(str(run))
    logged = []
    for folder in folders:
        records = _wandb_records(folder)
        (start,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert start.run_id == run_id and start.project == "dynamic-rcnn-ablation"
        assert (start.run_group, start.job_type, start.display_name) == (
            "dynamic_rcnn/default",
            "train",
            "dynamic_rcnn/default/seed0",
        )
        assert list(start.tags) == ["synthetic", "dynamic_rcnn", "default", "seed0", "test"]
        config = _items(start.config.update)
        assert config["run"] == dict(family="synthetic", arm="dynamic_rcnn", variant="default", seed=0)
        provenance = config["provenance"]
        assert provenance["config_sha256"] == manifest["config_sha256"] and provenance["seed"] == 0
        assert provenance["device"] == "cpu" and provenance["versions"]["mmdet"] == "3.3.0"
        assert provenance["commit"]
        history = [_items(r.history.item) for r in records if r.WhichOneof("record_type") == "history"]
        logged.append({row["iter"]: row["loss"] for row in history if "loss" in row})
    # the mmengine config too (W&B's config records), and the final metrics in the summary of the last attempt
    updates = [r.config.update for r in records if r.WhichOneof("record_type") == "config"]
    assert any("model" in _items(u) for u in updates)
    summary = {}
    for r in records:
        if r.WhichOneof("record_type") == "summary":
            summary.update(_items(r.summary.update))
    assert summary["coco/bbox_mAP"] == pytest.approx(val[-1]["coco/bbox_mAP"])
    assert summary["coco/bbox_mAP_50"] == pytest.approx(val[-1]["coco/bbox_mAP_50"])
    assert summary["dynrcnn/iou_thr"] == pytest.approx(train[-1]["dynrcnn/iou_thr"])
    assert summary["dynrcnn/beta"] == pytest.approx(train[-1]["dynrcnn/beta"])
    # the resumed attempt logged every iteration after the checkpoint of epoch 1; the killed one a part of the
    # iterations before it (W&B writes asynchronously: a SIGKILL loses its last records)
    losses = {line["step"]: line["loss"] for line in train}
    per_epoch = len(train) // EPOCHS
    assert sorted(logged[1]) == [step for step in losses if step > per_epoch]
    assert logged[0] and min(logged[0]) == 1 and set(logged[0]) <= set(losses)
    for step, loss in logged[1].items():
        assert loss == pytest.approx(losses[step])
    for step, loss in logged[0].items():
        assert step > per_epoch or loss == pytest.approx(losses[step])


def test_tracking_stays_out_of_the_run_folder(tracked):
    work, run, _ = tracked
    assert sorted(os.listdir(run)) == ["config.py", "scalars.json", "train_manifest.json"]
    resolved = (run / "config.py").read_text()
    assert "FailSafeVisBackend" not in resolved and "TrackingHook" not in resolved
    assert (work / "resolved_config.py").read_text() == resolved


def test_a_broken_wandb_is_one_warning_and_the_training_goes_on(tmp_path, wandb_env):
    """`import wandb` raising (a broken install): one warning naming the backend, TensorBoard and the run folder as
    usual."""
    from dynrcnn.data.synthetic import generate

    stub = tmp_path / "stub" / "wandb"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text("raise RuntimeError('this wandb install is broken')\n")
    data = generate(tmp_path / "data", num_train=4, num_val=2, image_size=64, seed=0)
    work, run = tmp_path / "work", tmp_path / "run"
    cmd = train_cmd(
        REPO / "configs" / "synthetic" / "baseline.py", data, work, run, ["--tracking", "wandb,tensorboard"], 1
    )
    proc = subprocess.run(cmd, cwd=REPO, env=_env(wandb_env, [tmp_path / "stub"]), capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    warnings = [line for line in out.splitlines() if "WARNING - tracking backend" in line]
    assert len(warnings) == 1 and "'wandb'" in warnings[0] and "this wandb install is broken" in warnings[0], warnings
    assert sorted(os.listdir(run)) == ["config.py", "scalars.json", "train_manifest.json"]
    assert "loss" in _tensorboard_series(work / tracking.TENSORBOARD_DIR)[0]
