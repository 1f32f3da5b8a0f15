"""dynrcnn.tools.detect_epochs: one file per epoch checkpoint of the manifest, the folder replaced as a whole."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dynrcnn.tools.detect_epochs as detect_tool
from dynrcnn import run_record
from dynrcnn.tools.commands import detect_epochs_command

REPO = Path(__file__).resolve().parents[2]


def _checkpoints(out):
    return {
        e: {d["checkpoint"] for d in json.loads(Path(p).read_text())}
        for e, p in run_record.epoch_detection_files(out).items()
    }


def test_exactly_the_manifests_epochs(tmp_path, make_run, fake_inference, capsys):
    run, _, dets = make_run(tmp_path, epochs=(1, 2, 3))
    work = tmp_path / "results" / "work" / "r"
    (work / "epoch_4.pth").write_bytes(b"")  # in the work dir, not in the manifest: not this training's
    loaded = fake_inference(dets)
    out = run / "epoch_detections"
    detect_tool.main(["--run-dir", str(run), "--max-images", "2", "--out", str(out)])
    assert sorted(os.listdir(out)) == ["epoch_1.bbox.json", "epoch_2.bbox.json", "epoch_3.bbox.json"]
    assert _checkpoints(out) == {e: {str(work / f"epoch_{e}.pth")} for e in (1, 2, 3)}
    assert loaded == [str(work / f"epoch_{e}.pth") for e in (1, 2, 3)]
    assert {d["max_images"] for d in json.loads((out / "epoch_1.bbox.json").read_text())} == {2}
    progress = [line for line in capsys.readouterr().out.splitlines() if "dynrcnn.tools.detect_epochs" in line]
    assert len(progress) == 3 and "epoch 3 (3/3)" in progress[-1] and "first 2 val images" in progress[-1]
    # nothing else next to the folder (no temporary folder left), nothing else written into the run folder
    assert sorted(os.listdir(run)) == ["config.py", "epoch_detections", "train_manifest.json"]


def test_no_max_images_is_the_whole_split(tmp_path, make_run, fake_inference):
    run, _, dets = make_run(tmp_path)
    fake_inference(dets)
    for extra in ([], ["--max-images", "0"]):
        detect_tool.main(["--run-dir", str(run), "--out", str(run / "epoch_detections")] + extra)
        assert {d["max_images"] for d in json.loads((run / "epoch_detections" / "epoch_2.bbox.json").read_text())} in (
            {None},
            {0},
        )


def test_an_earlier_folder_is_replaced_as_a_whole(tmp_path, make_run, fake_inference):
    run, _, dets = make_run(tmp_path, epochs=(1, 2))
    fake_inference(dets)
    out = run / "epoch_detections"
    out.mkdir()
    for epoch in (1, 2, 3):  # an earlier training of three epochs
        (out / f"epoch_{epoch}.bbox.json").write_text("[]")
    detect_tool.main(["--run-dir", str(run), "--out", str(out)])
    assert sorted(os.listdir(out)) == ["epoch_1.bbox.json", "epoch_2.bbox.json"]
    assert all(json.loads((out / name).read_text()) for name in os.listdir(out))


def test_a_failure_leaves_the_existing_folder_intact(tmp_path, make_run, fake_inference, monkeypatch):
    run, _, dets = make_run(tmp_path, epochs=(1, 2))
    fake_inference(dets)
    out = run / "epoch_detections"
    detect_tool.main(["--run-dir", str(run), "--out", str(out)])
    before = {name: (out / name).read_text() for name in os.listdir(out)}
    assert sorted(before) == ["epoch_1.bbox.json", "epoch_2.bbox.json"]
    # the inference fails at epoch 2, after epoch 1 was written (the tool's own check is bypassed)
    manifest = run_record.read_manifest(str(run))
    monkeypatch.setattr(detect_tool, "checked_manifest", lambda run_dir, epochs=False: manifest)
    os.unlink(tmp_path / "results" / "work" / "r" / "epoch_2.pth")
    with pytest.raises(FileNotFoundError, match="epoch_2.pth"):
        detect_tool.main(["--run-dir", str(run), "--out", str(out)])
    assert {name: (out / name).read_text() for name in os.listdir(out)} == before
    assert sorted(os.listdir(run)) == ["config.py", "epoch_detections", "train_manifest.json"]  # no temp folder


def test_missing_epoch_checkpoint_is_one_error_line(tmp_path, make_run):
    run, _, _ = make_run(tmp_path, epochs=(1, 2))
    os.unlink(tmp_path / "results" / "work" / "r" / "epoch_1.pth")
    out = run / "epoch_detections"
    proc = subprocess.run(
        detect_epochs_command(run, out=out, python=sys.executable),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "epoch_1.pth is missing" in line and "Delete the run's train_manifest.json" in line
    assert not out.exists()
