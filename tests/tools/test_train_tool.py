"""Unit tests of dynrcnn.tools.train and dynrcnn.run_folder that need no training: data paths, lr bookkeeping,
scalars merging, resume/supersede, the run dir's files, and the command-line errors for a bad config path or
dataset root."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

import dynrcnn.tools.train as train_tool
from dynrcnn import run_folder, run_record
from dynrcnn.run_folder import effective_lr, finalize, merge_scalars, prepare_work_dir, resume_decision
from dynrcnn.run_record import DATASET_LAYOUTS
from dynrcnn.tools.train import set_data_paths

REPO = Path(__file__).resolve().parents[2]


def _cfg(**extra):
    ds = dict(type="CocoDataset", data_root="data/elsewhere/", ann_file="a.json", data_prefix=dict(img="x/"))
    return Config(
        dict(
            train_dataloader=dict(batch_size=2, dataset=dict(type="RepeatDataset", times=2, dataset=dict(ds))),
            val_dataloader=dict(batch_size=1, dataset=dict(ds)),
            test_dataloader=dict(batch_size=1, dataset=dict(ds)),
            val_evaluator=dict(type="CocoMetric", ann_file="data/elsewhere/a.json"),
            test_evaluator=[dict(type="CocoMetric", ann_file="data/elsewhere/a.json"), dict(type="Other")],
            optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.02)),
            **extra,
        )
    )


@pytest.mark.parametrize(
    "dataset, train_ann, val_ann, val_img",
    [
        ("synthetic", "annotations/instances_train.json", "annotations/instances_val.json", "val/"),
        ("coco", "annotations/instances_train2017.json", "annotations/instances_val2017.json", "val2017/"),
    ],
)
def test_every_loader_and_evaluator_points_at_data_root(dataset, train_ann, val_ann, val_img):
    cfg = _cfg()
    set_data_paths(cfg, "/data/root", dataset)
    inner = cfg.train_dataloader.dataset.dataset  # through the RepeatDataset wrapper
    assert inner.data_root == "/data/root/" and inner.ann_file == train_ann
    for name in ("val_dataloader", "test_dataloader"):
        ds = cfg[name].dataset
        assert (ds.data_root, ds.ann_file, ds.data_prefix.img) == ("/data/root/", val_ann, val_img)
    assert cfg.val_evaluator.ann_file == f"/data/root/{val_ann}"
    assert cfg.test_evaluator[0].ann_file == f"/data/root/{val_ann}"
    assert "ann_file" not in cfg.test_evaluator[1]  # not a COCO metric: left alone


def test_bad_layout_and_concat_dataset_are_named():
    with pytest.raises(ValueError, match="unknown dataset layout 'voc'"):
        set_data_paths(_cfg(), "r", "voc")
    cfg = _cfg()
    cfg.train_dataloader.dataset = dict(type="ConcatDataset", datasets=[dict(), dict()])
    with pytest.raises(ValueError, match="train_dataloader.dataset is a ConcatDataset"):
        set_data_paths(cfg, "r", "synthetic")


def test_effective_lr_follows_auto_scale_lr():
    assert effective_lr(_cfg(), world_size=8) == pytest.approx(0.02)
    cfg = _cfg(auto_scale_lr=dict(enable=True, base_batch_size=16))
    assert effective_lr(cfg, world_size=8) == pytest.approx(0.02)  # 8 x 2 = 16
    assert effective_lr(cfg, world_size=1) == pytest.approx(0.02 * 2 / 16)


def _write_scalars(path, lines):
    path.mkdir(parents=True)
    (path / "scalars.json").write_text("".join(json.dumps(d) + "\n" for d in lines))


def test_merge_scalars_of_a_resumed_training(tmp_path):
    # attempt 1 logged iterations 5..15 and validated epoch 1 (10 iterations per epoch), then was killed
    # after iteration 15; attempt 2 resumed from the epoch-1 checkpoint (iteration 10)
    first = (
        [dict(step=s, lr=0.1, loss=1.0 / s) for s in (5, 10)]
        + [{"coco/bbox_mAP": 0.1, "step": 1}]
        + [dict(step=15, lr=0.1, loss=0.5)]
    )
    second = [dict(step=s, lr=0.01, loss=2.0 / s) for s in (15, 20)] + [{"coco/bbox_mAP": 0.2, "step": 2}]
    _write_scalars(tmp_path / "20260101_000000" / "vis_data", first)
    _write_scalars(tmp_path / "20260101_010000" / "vis_data", second)
    merged = merge_scalars(str(tmp_path))
    train = [(d["step"], d["lr"]) for d in merged if "lr" in d]
    assert train == [(5, 0.1), (10, 0.1), (15, 0.01), (20, 0.01)]  # the re-done iteration 15 from attempt 2
    assert [(d["step"], d["coco/bbox_mAP"]) for d in merged if "coco/bbox_mAP" in d] == [(1, 0.1), (2, 0.2)]


def test_merge_scalars_single_attempt_is_a_copy(tmp_path):
    lines = [dict(step=s, lr=0.1, loss=1.0) for s in (5, 10)] + [{"coco/bbox_mAP": 0.3, "step": 1}]
    _write_scalars(tmp_path / "20260101_000000" / "vis_data", lines)
    assert merge_scalars(str(tmp_path)) == lines


def test_resume_decision(tmp_path):
    work = tmp_path / "work"
    assert resume_decision(str(work), "cfg A") == "fresh"  # no work dir yet
    work.mkdir()
    (work / "resolved_config.py").write_text("cfg A")
    assert resume_decision(str(work), "cfg A") == "fresh"  # killed before the first checkpoint
    (work / "epoch_1.pth").write_bytes(b"")
    (work / "last_checkpoint").write_text(str(work / "epoch_1.pth"))
    assert resume_decision(str(work), "cfg A") == "resume"
    # checkpoints of another config (e.g. a changed K_I) are never resumed
    assert resume_decision(str(work), "cfg B") == "supersede"
    (work / "resolved_config.py").unlink()
    assert resume_decision(str(work), "cfg A") == "supersede"


def test_prepare_work_dir_supersedes_the_checkpoints_of_another_config(tmp_path):
    work = tmp_path / "work"
    logged = []
    assert prepare_work_dir(str(work), "cfg A", log=logged.append) is False
    assert (work / "resolved_config.py").read_text() == "cfg A"
    (work / "epoch_1.pth").write_bytes(b"")
    (work / "last_checkpoint").write_text(str(work / "epoch_1.pth"))
    assert prepare_work_dir(str(work), "cfg A", log=logged.append) is True  # same config: resume
    assert (work / "epoch_1.pth").exists()
    assert prepare_work_dir(str(work), "cfg B", log=logged.append) is False  # another config: start over
    (aside,) = tmp_path.glob("work.superseded-*")
    assert (aside / "epoch_1.pth").exists() and (aside / "resolved_config.py").read_text() == "cfg A"
    assert sorted(p.name for p in work.iterdir()) == ["resolved_config.py"]
    assert (work / "resolved_config.py").read_text() == "cfg B"
    assert logged[-2].startswith(f"the checkpoints in {work} were trained with another config: moved to {aside}")
    assert logged[-1] == "starting fresh"


def _finished_work_dir(work, epochs):
    """A work dir as a finished training leaves it: checkpoints, wall time, scalars, resolved config."""
    _write_scalars(work / "20260101_000000" / "vis_data", [dict(step=1, lr=0.1, loss=1.0)])
    for epoch in epochs:
        (work / f"epoch_{epoch}.pth").write_bytes(b"")
    (work / "last_checkpoint").write_text(str((work / f"epoch_{epochs[-1]}.pth").resolve()))
    (work / "wall_time.json").write_text(json.dumps(dict(seconds=3.0)))
    (work / "resolved_config.py").write_text("resolved = 1\n")


def _finalize(run, work, **kwargs):
    settings = dict(
        world_size=1,
        max_epochs=2,
        config="c.py",
        seed=0,
        dataset="synthetic",
        data_root="d",
        cfg_options={"train_cfg.max_epochs": 2},
    )
    settings.update(kwargs)
    return finalize(str(run), str(work), _cfg(), **settings)


def test_finalize_writes_the_run_folder_with_relative_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    work, run = tmp_path / "results" / "work" / "r", tmp_path / "results" / "runs" / "r"
    work.mkdir(parents=True)
    _finished_work_dir(work, epochs=[1, 2])
    (work / "epoch_3.pth.tmp").write_bytes(b"")  # not a checkpoint
    manifest = _finalize(run, Path("results/work/r"))
    assert sorted(p.name for p in run.iterdir()) == ["config.py", "scalars.json", "train_manifest.json"]
    stored = json.loads((run / "train_manifest.json").read_text())
    assert stored["checkpoint"] == "../../work/r/epoch_2.pth" and stored["work_dir"] == "../../work/r"
    assert stored["epoch_checkpoints"] == {"1": "../../work/r/epoch_1.pth", "2": "../../work/r/epoch_2.pth"}
    assert stored["wall_time_s"] == 3.0 and stored["cfg_options"] == ["train_cfg.max_epochs=2"]
    assert stored["config_sha256"] == run_folder.sha256_file(work / "resolved_config.py")
    assert stored["cpu_model"] == run_folder.cpu_provenance()["cpu_model"] and stored["cpu_capability"]
    assert "epoch_detections" not in stored
    assert manifest == run_record.read_manifest(str(run))
    assert Path(manifest["checkpoint"]).resolve() == (work / "epoch_2.pth").resolve()
    assert (run / "config.py").read_text() == "resolved = 1\n"
    assert [json.loads(line) for line in (run / "scalars.json").read_text().splitlines()] == [
        dict(step=1, lr=0.1, loss=1.0)
    ]


def test_finalize_leaves_the_other_tools_files_alone(tmp_path):
    work, run = tmp_path / "work", tmp_path / "run"
    work.mkdir()
    _finished_work_dir(work, epochs=[1, 2])
    # files of the evaluation and of the epoch detections of an earlier training of the run
    (run / "detections").mkdir(parents=True)
    (run / "detections" / "final.bbox.json").write_text("[]")
    (run / "epoch_detections").mkdir()
    (run / "epoch_detections" / "epoch_3.bbox.json").write_text("[]")
    _finalize(run, work)
    assert (run / "detections" / "final.bbox.json").read_text() == "[]"
    assert os.listdir(run / "epoch_detections") == ["epoch_3.bbox.json"]
    assert os.listdir(run / "detections") == ["final.bbox.json"]


def test_finalize_without_checkpoint_is_named(tmp_path):
    work, run = tmp_path / "work", tmp_path / "run"
    work.mkdir()
    _finished_work_dir(work, epochs=[1])
    (work / "last_checkpoint").unlink()
    (work / "epoch_1.pth").unlink()
    with pytest.raises(RuntimeError, match="no checkpoint was saved"):
        _finalize(run, work)
    assert not (run / "train_manifest.json").exists()


def _train_args(tmp_path, config, data_root, dataset="synthetic"):
    return [
        str(config),
        "--work-dir",
        str(tmp_path / "work"),
        "--run-dir",
        str(tmp_path / "run"),
        "--seed",
        "0",
        "--data-root",
        str(data_root),
        "--dataset",
        dataset,
    ]


def _layout(root, dataset):
    for split in ("train", "val"):
        ann, img = DATASET_LAYOUTS[dataset][split]
        (root / ann).parent.mkdir(parents=True, exist_ok=True)
        (root / ann).write_text("{}")
        (root / img).mkdir(parents=True, exist_ok=True)
    return root


def _usage_error(capsys, call):
    with pytest.raises(SystemExit) as exc:
        call()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "Traceback" not in err, err
    return error_lines[0]


def test_missing_config_is_one_error_before_anything_is_written(tmp_path, capsys):
    data = _layout(tmp_path / "data", "synthetic")
    line = _usage_error(capsys, lambda: train_tool.main(_train_args(tmp_path, tmp_path / "nope.py", data)))
    assert "nope.py" in line and "config file" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no work dir, no run dir


@pytest.mark.parametrize("dataset", ["synthetic", "coco"])
def test_data_root_without_the_layout_is_one_error_before_anything_is_written(tmp_path, capsys, dataset):
    config = REPO / "configs" / "synthetic" / "dla.py"
    line = _usage_error(capsys, lambda: train_tool.main(_train_args(tmp_path, config, tmp_path / "nope", dataset)))
    layout = DATASET_LAYOUTS[dataset]
    assert f"--data-root '{tmp_path / 'nope'}' is not a folder" in line and f"--dataset {dataset}" in line
    for path in layout["train"] + layout["val"]:
        assert path in line
    # one missing piece of an otherwise complete layout is named alone
    data = _layout(tmp_path / "data", dataset)
    (data / layout["val"][0]).unlink()
    line = _usage_error(capsys, lambda: train_tool.main(_train_args(tmp_path, config, data, dataset)))
    assert f"--data-root '{data}' lacks {layout['val'][0]}:" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_good_config_and_data_root_pass_the_checks(tmp_path):
    config = REPO / "configs" / "synthetic" / "dla.py"
    for dataset in ("synthetic", "coco"):
        data = _layout(tmp_path / dataset, dataset)
        args = train_tool.parse_args(_train_args(tmp_path, config, data, dataset))
        assert train_tool.input_problem(args) is None
        assert args.data_root == str(data)


def test_command_line_error_of_the_module(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dynrcnn.tools.train"]
        + _train_args(tmp_path, tmp_path / "missing.py", tmp_path / "nope"),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1].startswith("python -m dynrcnn.tools.train: error: config file "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
