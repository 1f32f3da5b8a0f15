"""The tools on a real (tiny) training (slow): training hands the run folder its files and writes no detections; the
evaluation and the epoch detections run the same inference on the saved checkpoints."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mmdet")
pytestmark = pytest.mark.slow  # a real training

from dynrcnn import run_record  # noqa: E402
from dynrcnn.tools.commands import arguments, detect_epochs_command, evaluate_command, train_command  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training of the synthetic dynamic_rcnn arm: 2 epochs on 4 images, validated after each epoch."""
    from dynrcnn.data.synthetic import generate

    root = tmp_path_factory.mktemp("tiny")
    data = generate(root / "data", num_train=4, num_val=3, image_size=96)
    run, work = root / "results" / "runs" / "r", root / "results" / "work" / "r"
    cmd = train_command(
        REPO / "configs" / "synthetic" / "dynamic_rcnn.py",
        work_dir=work,
        run_dir=run,
        seed=0,
        data_root=data,
        cfg_options=[f"train_cfg.max_epochs={EPOCHS}", "train_cfg.val_interval=1"],
        python=sys.executable,
    )
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root, run, work


def test_training_writes_the_run_folder_and_no_detections(trained):
    root, run, work = trained
    assert sorted(os.listdir(run)) == ["config.py", "scalars.json", "train_manifest.json"]
    # the validations ran (after each epoch), and none left a detection file anywhere
    _, val = run_record.read_scalars(run / "scalars.json")
    assert [line["step"] for line in val] == [1, 2] and all("coco/bbox_mAP" in line for line in val)
    assert not [p for p in root.rglob("*.bbox.json")]
    manifest = run_record.read_manifest(str(run))
    assert manifest["epoch_checkpoints"] == {e: str(work / f"epoch_{e}.pth") for e in range(1, EPOCHS + 1)}
    assert manifest["checkpoint"] == str(work / f"epoch_{EPOCHS}.pth")
    stored = json.loads((run / "train_manifest.json").read_text())
    assert stored["work_dir"] == "../../work/r" and stored["wall_time_s"] > 0
    assert json.loads((work / "wall_time.json").read_text())["seconds"] == stored["wall_time_s"]


def test_evaluation_and_epoch_detections_share_the_inference(trained):
    from dynrcnn.tools import detect_epochs, evaluate

    root, run, _ = trained
    evaluate.main(arguments(evaluate_command(run, family="synthetic", arm="dynamic_rcnn", variant="default", seed=0)))
    record = run_record.read_metrics(run / "metrics.json", expect=dict(arm="dynamic_rcnn", seed=0))
    assert record["provenance"]["checkpoint"] == f"epoch_{EPOCHS}.pth"
    final = json.loads((run / "detections" / "final.bbox.json").read_text())
    assert final  # the tiny training detects something, so the comparisons below compare boxes
    out = run / "epoch_detections"
    detect_epochs.main(arguments(detect_epochs_command(run, out=out)))
    assert list(run_record.epoch_detection_files(out)) == list(range(1, EPOCHS + 1))
    # the last epoch's checkpoint is the final one: the same detections, number for number
    assert json.loads((out / f"epoch_{EPOCHS}.bbox.json").read_text()) == final
    # on the first 2 images: the same detections of those images
    detect_epochs.main(arguments(detect_epochs_command(run, out=out, max_images=2)))
    sample = json.loads((out / f"epoch_{EPOCHS}.bbox.json").read_text())
    images = json.loads((root / "data" / "annotations" / "instances_val.json").read_text())["images"]
    first = {image["id"] for image in images[:2]}
    assert sample == [d for d in final if d["image_id"] in first]
    assert len(first) < len(images)


def test_exported_weights_load_with_init_detector_and_detect_as_the_full_checkpoint(trained):
    """The published weights (no optimizer state) are what MMDetection's own API loads, and they detect exactly as
    the training's full checkpoint on a synthetic image."""
    import torch
    from mmdet.apis import inference_detector, init_detector

    from dynrcnn.tools import evaluate, export

    root, run, _ = trained
    args = ["--family", "synthetic", "--arm", "dynamic_rcnn", "--variant", "default", "--seed", "0"]
    evaluate.main(["--run-dir", str(run), "--threads", "1"] + args)
    out = root / "export"
    export.main(["--family", "synthetic", "--out", str(out), str(run)])
    (weights,) = out.glob("*.pth")
    recorded = run_record.read_metrics(run / "metrics.json")["provenance"]["weights_sha256"]
    assert weights.name == f"synthetic_dynamic_rcnn_default_seed0-{recorded[:8]}.pth"
    assert set(torch.load(weights, weights_only=False)) == {"meta", "state_dict"}
    images = json.loads((root / "data" / "annotations" / "instances_val.json").read_text())["images"]
    image = str(root / "data" / "val" / images[0]["file_name"])
    config = str(out / "synthetic_dynamic_rcnn_default_seed0.py")
    found = []
    for checkpoint in (str(weights), run_record.read_manifest(str(run))["checkpoint"]):
        model = init_detector(config, checkpoint, device="cpu")
        found.append(inference_detector(model, image).pred_instances)
    published, full = found
    assert len(full.bboxes) > 0  # something to compare
    assert torch.equal(published.bboxes, full.bboxes) and torch.equal(published.scores, full.scores)
