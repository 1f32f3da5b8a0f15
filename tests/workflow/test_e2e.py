"""End to end through the real `snakemake` command on the tiny configuration (configs/pipeline/tiny.yaml).

One test, in steps (each needs the previous): a training is killed after its first checkpoint, the workflow is run
again and must resume it; every metrics.json must be complete and agree with pycocotools run directly on the
saved detections; a third invocation has nothing to do; the same run repeated from scratch on CPU gives
identical metrics. Run alone with `pytest -m e2e` (a few minutes on 2 CPU cores).
"""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dynrcnn import processes
from dynrcnn.run_record import HYPERPARAMETERS, IOU_KEYS, SUMMARY_METRICS, epoch_detection_files

KILLED_ARM = "dynamic_rcnn"
OTHER_ARM = "baseline"


def _training_pid(snakemake_pid, arm):
    for pid in processes.descendants(snakemake_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode() for a in cmdline]
        if "dynrcnn.tools.train" in args and any(f"/{arm}/default/" in a for a in args):
            return pid
    return None


def _cocoeval_directly(ann_file, det_file):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(json.loads(Path(det_file).read_text())), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def _check_metrics(run_dir, ann_file, arm):
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["run"] == dict(
        family="synthetic",
        arm=arm,
        variant="default",
        seed=0,
        dataset="synthetic",
        hyperparameters=record["run"]["hyperparameters"],
    )
    assert set(record["run"]["hyperparameters"]) == set(HYPERPARAMETERS)
    metrics = record["metrics"]
    assert list(metrics["AP_at_iou"]) == list(IOU_KEYS)
    for value in [metrics[k] for k in SUMMARY_METRICS] + list(metrics["AP_at_iou"].values()):
        assert value == -1 or 0 <= value <= 1
    prov = record["provenance"]
    for key in (
        "git_commit",
        "config_sha256",
        "packages",
        "seed",
        "device",
        "wall_time_s",
        "gpus",
        "images_per_gpu",
        "lr",
        "cpu_model",
        "cpu_capability",
        "eval_cpu_model",
        "eval_cpu_capability",
    ):
        assert prov[key] is not None or key == "git_commit", key
    assert prov["seed"] == 0 and prov["device"] == "cpu" and prov["wall_time_s"] > 0
    # the same numbers as pycocotools run directly on the saved detections
    ev = _cocoeval_directly(ann_file, run_dir / "detections" / "final.bbox.json")
    for i, key in enumerate(SUMMARY_METRICS):
        assert metrics[key] == pytest.approx(ev.stats[i], abs=1e-12), key
    assert metrics["AP_at_iou"]["0.50"] == pytest.approx(ev.stats[1], abs=1e-12)
    assert metrics["AP_at_iou"]["0.75"] == pytest.approx(ev.stats[2], abs=1e-12)
    # the contract's other files
    scalars = [json.loads(line) for line in (run_dir / "scalars.json").read_text().splitlines()]
    assert any("dynrcnn/iou_thr" in d for d in scalars) and any("coco/bbox_mAP" in d for d in scalars)
    # the epoch_detections rule's folder: one file per epoch checkpoint (training writes no detections)
    assert list(epoch_detection_files(run_dir / "epoch_detections")) == [1, 2]
    assert sorted(p.name for p in (run_dir / "detections").iterdir()) == ["final.bbox.json"]
    return record


@pytest.mark.e2e
def test_tiny_pipeline_resume_metrics_and_repeatability(tmp_path, smk):
    work = tmp_path / "pipeline"
    work.mkdir()
    config = smk.configs / "tiny.yaml"
    snakemake = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("snakemake")),
            "-s",
            str(smk.repo / "Snakefile"),
            "--directory",
            str(work),
            "--configfile",
            str(config),
            "--cores",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    # 1. kill the training of one arm once its first checkpoint exists
    killed_work = work / "results" / "work" / "synthetic" / KILLED_ARM / "default" / "seed0"
    deadline = time.time() + 600
    pid = None
    while time.time() < deadline and snakemake.poll() is None:
        if (killed_work / "last_checkpoint").exists() and (killed_work / "epoch_1.pth").exists():
            pid = _training_pid(snakemake.pid, KILLED_ARM)
            if pid:
                os.kill(pid, signal.SIGKILL)
                break
        time.sleep(0.05)
    output, _ = snakemake.communicate(timeout=600)
    assert pid is not None, f"never saw the first checkpoint of {KILLED_ARM}:\n{output[-5000:]}"
    assert not (killed_work / "epoch_2.pth").exists(), "killed too late: the training had already finished"
    assert snakemake.returncode != 0, output[-3000:]
    killed_run = work / "results" / "runs" / "synthetic" / KILLED_ARM / "default" / "seed0"
    assert not (killed_run / "metrics.json").exists() and not (killed_run / "train_manifest.json").exists()

    # 2. run again: the killed training resumes from its checkpoint and everything finishes
    proc = smk.run(work, "--cores", "2", configfiles=[config], check=True)
    log = (work / "results" / "logs" / "train" / "synthetic" / KILLED_ARM / "default" / "seed0.log").read_text()
    assert "resuming from" in log and "resumed epoch: 1, iter:" in log, log[-3000:]
    # both attempts left their mmengine log in the work dir: the first started fresh, the second resumed
    attempts = sorted(killed_work.glob("2*/2*.log"))
    assert len(attempts) == 2, attempts
    assert "resumed epoch" not in attempts[0].read_text()
    assert "resumed epoch: 1, iter:" in attempts[1].read_text()
    ann_file = work / "results" / "data" / "tiny" / "annotations" / "instances_val.json"
    records = {
        arm: _check_metrics(work / "results" / "runs" / "synthetic" / arm / "default" / "seed0", str(ann_file), arm)
        for arm in (KILLED_ARM, OTHER_ARM)
    }

    # 3. a further invocation has nothing to do (the finished runs' training requests are the recorded ones), also
    # with tracking switched on (not part of the experiment)
    proc = smk.run(work, "-n", configfiles=[config], check=True)
    assert "Nothing to be done" in proc.stdout and "retrain " not in proc.stdout, proc.stdout[-3000:]
    tracked = smk.write_config(tmp_path / "tracked.yaml", base="tiny.yaml", tracking=dict(backends=["tensorboard"]))
    proc = smk.run(work, "-n", configfiles=[tracked], check=True)
    assert "Nothing to be done" in proc.stdout, proc.stdout[-3000:]

    # 4. the uninterrupted run repeated from scratch on CPU gives identical metrics
    again = tmp_path / "again"
    again.mkdir()
    # (metrics only: the per-epoch detections were checked above)
    repeat = smk.write_config(
        tmp_path / "repeat.yaml", base="tiny.yaml", arms=[OTHER_ARM], evaluate={"epoch_detections": False}
    )
    smk.run(again, "--cores", "2", configfiles=[repeat], check=True)
    record = json.loads(
        (again / "results" / "runs" / "synthetic" / OTHER_ARM / "default" / "seed0" / "metrics.json").read_text()
    )
    assert record["metrics"] == records[OTHER_ARM]["metrics"]
    assert record["run"] == records[OTHER_ARM]["run"]

    # 5. only results/runs/ copied into a fresh tree: `make report` (report.from_runs) plans the report jobs only and
    # rebuilds the tables the report tool makes from the finished tree
    reference = tmp_path / "reference"
    runs = sorted(p.parent.relative_to(work) for p in (work / "results" / "runs").rglob("metrics.json"))
    subprocess.run(
        [sys.executable, "-m", "analysis.report", "--metrics", *[f"{r}/metrics.json" for r in runs]]
        + ["--scalars", *[f"{r}/scalars.json" for r in runs], "--epoch-detections"]
        + [f"{r}/epoch_detections" for r in runs]
        + ["--out-dir", str(reference), "--family", "synthetic", "--dataset", "synthetic"],
        check=True,
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(smk.repo)},
        capture_output=True,
    )
    fresh = tmp_path / "fresh"
    shutil.copytree(work / "results" / "runs", fresh / "results" / "runs")
    from_runs = [config, smk.configs / "report_from_runs.yaml"]
    proc = smk.run(fresh, "-n", configfiles=from_runs, check=True)
    assert smk.job_counts(proc.stdout) == dict(report=1, publish_report=1, all=1), proc.stdout[-3000:]
    smk.run(fresh, "--cores", "1", configfiles=from_runs, check=True)
    for table in sorted((reference / "tables").iterdir()):
        assert (fresh / "reports" / "synthetic" / "tables" / table.name).read_bytes() == table.read_bytes(), table

    # 6. the work dirs cleaned: nothing is retrained, one line says how to retrain a run
    shutil.rmtree(work / "results" / "work")
    proc = smk.run(work, "-n", configfiles=[config], check=True)
    assert "Nothing to be done" in proc.stdout, proc.stdout[-3000:]
    assert "2 finished runs have no checkpoint left (work dir cleaned): not retrained" in proc.stdout
