"""dynrcnn.tools.evaluate: the metrics.json contract, its atomic write, the manifest's relative paths (a copied
results tree evaluates its own checkpoint) and the one-line errors of an unfinished or lost training."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dynrcnn.tools.evaluate as evaluate_tool
from dynrcnn import run_record
from dynrcnn.evaluation.coco_metrics import evaluate_detections
from dynrcnn.tools.commands import evaluate_command

REPO = Path(__file__).resolve().parents[2]
ARGS = ["--family", "synthetic", "--arm", "dynamic_rcnn", "--variant", "ki50-kb8-c20", "--seed", "3"]


def test_metrics_json_has_the_contract(tmp_path, make_run):
    run, ann, dets = make_run(tmp_path)
    evaluate_tool.main(["--run-dir", str(run), "--detections", dets] + ARGS)
    record = json.loads((run / "metrics.json").read_text())
    assert record["run"] == dict(
        family="synthetic",
        arm="dynamic_rcnn",
        variant="ki50-kb8-c20",
        seed=3,
        dataset="synthetic",
        hyperparameters=dict(iou_topk=50, beta_topk=8, update_iter_interval=20),
    )
    assert record["metrics"] == evaluate_detections(ann, dets)
    assert set(record["metrics"]) == {"AP", "AP50", "AP75", "APS", "APM", "APL", "AP_at_iou"}
    assert 0 < record["metrics"]["AP"] < 1
    prov = record["provenance"]
    assert tuple(prov) == run_record.PROVENANCE_KEYS  # dynrcnn.run_record.provenance_record's block
    assert prov["seed"] == 3 and prov["wall_time_s"] == 12.5 and prov["config_sha256"] == "ab" * 32
    assert prov["checkpoint"] == "epoch_2.pth" and prov["eval_device"] is None
    # the machine that made the numbers: the training's CPU (from the manifest) and the evaluation's
    assert (prov["cpu_model"], prov["cpu_capability"]) == ("Test CPU @ 1.00GHz", "AVX2")
    assert prov["eval_cpu_model"] and prov["eval_cpu_capability"]
    assert {"torch", "mmdet", "mmcv", "mmengine", "pycocotools", "numpy"} <= set(prov["packages"])
    # the evaluated detections are kept next to the metrics
    assert json.loads((run / "detections" / "final.bbox.json").read_text()) == json.loads(open(dets).read())
    assert run_record.read_metrics(run / "metrics.json", expect=dict(arm="dynamic_rcnn", seed=3)) == record


def test_missing_dynamic_rcnn_block_is_refused(tmp_path, make_run, capsys):
    # every arm's config has the block; a record without hyper-parameters would not be a run of the ablation
    run, _, dets = make_run(tmp_path, with_block=False)
    with pytest.raises(SystemExit) as exc:
        evaluate_tool.main(["--run-dir", str(run), "--detections", dets] + ARGS)
    assert exc.value.code and "run.hyperparameters must hold numbers" in str(exc.value)
    assert not (run / "metrics.json").exists()


def test_a_crash_leaves_no_metrics_file(tmp_path, make_run, monkeypatch):
    run, _, dets = make_run(tmp_path)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash during the evaluation")

    monkeypatch.setattr(evaluate_tool, "package_versions", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        evaluate_tool.main(["--run-dir", str(run), "--detections", dets] + ARGS)
    assert not (run / "metrics.json").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".metrics.json")]  # no temp file left


def test_unfinished_training_is_one_error_line(tmp_path, make_run):
    run, _, dets = make_run(tmp_path)
    (run / "train_manifest.json").unlink()
    with pytest.raises(SystemExit) as exc:
        evaluate_tool.main(["--run-dir", str(run), "--detections", dets] + ARGS)
    message = str(exc.value)
    assert "\n" not in message and "train_manifest.json: missing" in message and "has not finished" in message
    assert not (run / "metrics.json").exists()


def test_bad_arm_or_variant_is_a_usage_error(tmp_path, make_run, capsys):
    run, _, dets = make_run(tmp_path)
    for bad in (["--arm", "dynamic"], ["--variant", "ki50"]):
        args = ARGS + bad  # the last value of an option wins
        with pytest.raises(SystemExit) as exc:
            evaluate_tool.main(["--run-dir", str(run), "--detections", dets] + args)
        assert exc.value.code == 2
        assert bad[1] in capsys.readouterr().err


def test_inference_detects_with_the_manifests_checkpoint(tmp_path, make_run, fake_inference):
    run, _, dets = make_run(tmp_path)
    loaded = fake_inference(dets)
    evaluate_tool.main(["--run-dir", str(run)] + ARGS)
    work = tmp_path / "results" / "work" / "r"
    assert loaded == [str(work / "epoch_2.pth")]
    final = json.loads((run / "detections" / "final.bbox.json").read_text())
    assert {d["checkpoint"] for d in final} == {str(work / "epoch_2.pth")}
    assert {d["max_images"] for d in final} == {None}  # the whole val split
    record = json.loads((run / "metrics.json").read_text())
    assert record["provenance"]["eval_device"] == "cpu"
    assert sorted(os.listdir(run)) == ["config.py", "detections", "metrics.json", "train_manifest.json"]
    assert os.listdir(run / "detections") == ["final.bbox.json"]  # no epoch detections from the evaluation


def test_the_final_checkpoint_is_read_once_and_its_published_weights_hash_recorded(
    tmp_path, make_run, fake_inference, monkeypatch
):
    """The weights hash comes from the checkpoint the inference loads: the file is read once, not again to hash it."""
    import torch

    from dynrcnn.tools.export import weights_sha256

    run, _, dets = make_run(tmp_path)
    fake_inference(dets)
    final = str(tmp_path / "results" / "work" / "r" / "epoch_2.pth")
    reads, real_load = [], torch.load

    def counting_load(f, *args, **kwargs):
        reads.append(os.path.abspath(str(f)))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    evaluate_tool.main(["--run-dir", str(run)] + ARGS)
    assert reads.count(final) == 1
    monkeypatch.setattr(torch, "load", real_load)
    assert run_record.read_metrics(run / "metrics.json")["provenance"]["weights_sha256"] == weights_sha256(final)


def test_a_copied_results_tree_evaluates_its_own_checkpoint(tmp_path, make_run, fake_inference):
    original = tmp_path / "a"
    original.mkdir()
    run, _, dets = make_run(original)
    copy = tmp_path / "b"
    shutil.copytree(original / "results", copy / "results")
    loaded = fake_inference(dets)
    # the original's checkpoint goes: reading it instead of the copy's would fail
    os.unlink(original / "results" / "work" / "r" / "epoch_2.pth")
    copied_run = copy / "results" / "runs" / "r"
    evaluate_tool.main(["--run-dir", str(copied_run)] + ARGS)
    assert loaded == [str(copy / "results" / "work" / "r" / "epoch_2.pth")]
    assert (copied_run / "metrics.json").exists() and (copied_run / "detections" / "final.bbox.json").exists()
    assert not (run / "metrics.json").exists() and not (run / "detections").exists()
    # the inference's scratch files are in the copy's work dir
    assert (copy / "results" / "work" / "r" / "eval" / "dets.bbox.json").exists()
    assert not (original / "results" / "work" / "r" / "eval").exists()


def test_missing_checkpoint_is_one_error_line_naming_the_run_and_the_fix(tmp_path, make_run, fake_inference):
    run, _, dets = make_run(tmp_path)
    fake_inference(dets)
    os.unlink(tmp_path / "results" / "work" / "r" / "epoch_2.pth")
    proc = subprocess.run(
        evaluate_command(
            run, family="synthetic", arm="dynamic_rcnn", variant="ki50-kb8-c20", seed=3, python=sys.executable
        ),
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"python -m dynrcnn.tools.evaluate: error: {run / 'train_manifest.json'}: ")
    assert "epoch_2.pth is missing" in line and "Delete the run's train_manifest.json" in line
    assert not (run / "metrics.json").exists()
