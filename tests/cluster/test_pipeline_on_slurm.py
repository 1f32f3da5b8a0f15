"""Cluster rehearsal of the whole pipeline: configs/pipeline/tiny.yaml through the real local SLURM cluster with the
project's profile (workflow/profiles/slurm), two (fake) GPUs per training.

The path a real cluster takes: Snakemake's SLURM executor submits every job with sbatch (a training with
``--gpus=2``, one task), the job step runs the rule, the training rule runs ``torchrun`` with 2 processes, which
train on CPU with gloo (no CUDA behind the fake GPUs), then evaluation, per-epoch detections and the report.

In order (one module fixture, each step needs the previous):

1. A config error only the training sees (a negative learning rate in ``train.cfg_options``), one arm: the training
   fails on the cluster, Snakemake reports the failed job with its log path, and the log holds the training's error.
2. The fixed config, both arms: everything completes without redoing what the first call finished (the dataset);
   every job went through SLURM in a job of its own (sacct: COMPLETED), each training job asked the profile's
   resources (``--gpus=2`` as one task, ``tasks_per_gpu: 0``) and got the node's CPUs, the metrics are complete,
   each training ran 2 processes, and the report exists.

The partition of the profile is replaced on the command line by this node's and its CPU counts are scaled to this
node (the training gets the whole node, the other jobs their share of it: two evaluations can run side by side); the
profile's other settings, e.g. one task per training, stay as they are. Run alone with ``make test-cluster``; wall
times and the sacct lines are printed (``-s``).
"""

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from dynrcnn.run_record import read_manifest, read_metrics

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "workflow" / "profiles" / "slurm"
TINY = REPO / "configs" / "pipeline" / "tiny.yaml"
ARMS = ("baseline", "dynamic_rcnn")
BAD_OPTION = "optim_wrapper.optimizer.lr=-1"  # valid for the pipeline's checks, refused by torch's SGD
SNAKEMAKE_TIMEOUT_S = 900


def node_overrides(cluster) -> list[str]:
    """The profile's partition replaced by this node's and its CPU counts scaled to this node, as command-line
    arguments.

    The profile's training asks a whole node's CPUs and the other jobs a share of one; here the training gets all of
    this node's and every other job the same share of it (at least one CPU), so that jobs share this node as they would
    share a real one. A command-line ``--set-resources``/``--set-threads``/``--default-resources`` replaces the
    profile's whole entry, so every other value of the profile's entry is passed on unchanged.
    """
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    scale = cluster.cpus / int(profile["set-resources"]["train"]["cpus_per_task"])

    def cpus(value):
        return max(1, min(cluster.cpus, int(int(value) * scale)))

    def fit(key, value):
        return cpus(value) if key == "cpus_per_task" else value

    defaults = dict(profile.get("default-resources") or {}, slurm_partition=cluster.partition)
    args = ["--default-resources", *[f"{k}={fit(k, v)}" for k, v in defaults.items()]]
    resources = [
        f"{rule}:{k}={fit(k, v)}"
        for rule, values in (profile.get("set-resources") or {}).items()
        for k, v in values.items()
    ]
    if resources:
        args += ["--set-resources", *resources]
    threads = [f"{rule}={cpus(n)}" for rule, n in (profile.get("set-threads") or {}).items()]
    if threads:
        args += ["--set-threads", *threads]
    return args


def write_config(path: Path, **changes) -> Path:
    config = yaml.safe_load(TINY.read_text())
    config.update(gpus_per_job=2, report=dict(enabled=True))
    for key, value in changes.items():
        config.setdefault(key, {}).update(value) if isinstance(value, dict) else config.update({key: value})
    path.write_text(yaml.safe_dump(config))
    return path


def run_pipeline(cluster, workdir: Path, config: Path):
    start = time.monotonic()
    proc = cluster.snakemake(
        workdir,
        "-s",
        str(REPO / "Snakefile"),
        "--configfile",
        str(config),
        "--workflow-profile",
        str(PROFILE),
        *node_overrides(cluster),
        "--retries",
        "0",
        "--latency-wait",
        "10",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--verbose",
        executor_args=False,
        timeout_s=SNAKEMAKE_TIMEOUT_S,
    )
    return proc, time.monotonic() - start


def sacct_lines(job_ids) -> str:
    out = subprocess.run(
        [
            "sacct",
            "-X",
            "-j",
            ",".join(map(str, job_ids)),
            "-o",
            "JobID,JobName%36,State,AllocCPUS,AllocTRES%40,Elapsed",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


@pytest.fixture(scope="module")
def pipeline(slurm_cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pipeline_on_slurm")
    bad = write_config(
        workdir / "bad.yaml", arms=[ARMS[0]], train={"cfg_options": ["train_cfg.val_interval=1", BAD_OPTION]}
    )
    good = write_config(workdir / "tiny_2gpu.yaml")
    failed, failed_s = run_pipeline(slurm_cluster, workdir, bad)
    # the failed jobs' logs, before the second call's reruns of those jobs empty them
    failed_logs = {
        log: (workdir / log).read_text()
        for log in sorted(set(re.findall(r"results/logs/train/synthetic/\w+/default/seed0\.log", failed.stdout)))
    }
    fixed, fixed_s = run_pipeline(slurm_cluster, workdir, good)
    print(f"\ncluster e2e wall time: failing call {failed_s:.0f} s, fixed call {fixed_s:.0f} s")
    return dict(workdir=workdir, failed=failed, failed_logs=failed_logs, fixed=fixed, cluster=slurm_cluster)


def test_a_failing_training_is_reported_with_its_log(pipeline):
    proc, workdir = pipeline["failed"], pipeline["workdir"]
    out = proc.stdout
    assert proc.returncode != 0, out[-5000:]
    assert "Error in rule train" in out, out[-5000:]
    assert pipeline["failed_logs"], out[-5000:]  # the log paths are in Snakemake's error report
    for log, text in pipeline["failed_logs"].items():
        assert "Invalid learning rate: -1" in text, f"{log}: {text[-3000:]}"
    assert (workdir / "results" / "data" / "tiny.ready").exists()  # the dataset job finished on the cluster


def test_the_fixed_pipeline_completes_through_slurm(pipeline):
    proc, workdir, cluster = pipeline["fixed"], pipeline["workdir"], pipeline["cluster"]
    out = proc.stdout
    assert proc.returncode == 0, out[-8000:]
    assert re.search(r"(\d+) of \1 steps \(100%\) done", out), out[-3000:]
    # the first call's finished job is not redone
    stats = dict(re.findall(r"^(\w+)\s+(\d+)$", out.split("Job stats:")[1].split("total")[0], flags=re.M))
    assert "synthetic_data" not in stats, stats
    assert stats["train"] == "2" and stats["evaluate"] == "2" and stats["report"] == "1", stats
    # every job but the local ones went through SLURM and completed there
    job_ids = [int(j) for j in re.findall(r"submitted with SLURM jobid (\d+)", out)]
    local = {"all", "publish_report"}
    assert len(job_ids) == sum(int(n) for rule, n in stats.items() if rule not in local), (job_ids, stats)
    lines = sacct_lines(job_ids)
    print(f"\nsacct of the fixed call:\n{lines}")
    rows = cluster.sacct("-j", ",".join(map(str, job_ids)))
    assert sorted(int(r["JobID"]) for r in rows) == sorted(job_ids), lines
    assert all(r["State"] == "COMPLETED" for r in rows), lines
    # the trainings: sbatch --gpus=2 as one task, the node's CPUs; torchrun with 2 processes (CPU, gloo)
    train_calls = [c for c in re.findall(r"sbatch call: (sbatch .*)", out) if "--gpus=2" in c]
    assert len(train_calls) == 2 and not any("--ntasks-per-gpu" in c for c in train_calls), train_calls
    trainings = [r for r in rows if "gres/gpu=2" in r["AllocTRES"]]
    assert len(trainings) == 2 and all(int(r["AllocCPUS"]) == cluster.cpus for r in trainings), lines
    for arm in ARMS:
        run = workdir / "results" / "runs" / "synthetic" / arm / "default" / "seed0"
        manifest = read_manifest(str(run))
        assert manifest["world_size"] == 2 and manifest["gpus"] == 0, manifest
        read_metrics(str(run / "metrics.json"))  # complete and valid, or it raises
        work = workdir / "results" / "work" / "synthetic" / arm / "default" / "seed0"
        assert sorted(p.name for p in work.glob("dynrcnn_rank*.jsonl")) == [
            "dynrcnn_rank0.jsonl",
            "dynrcnn_rank1.jsonl",
        ]
        log = (workdir / "results" / "logs" / "train" / "synthetic" / arm / "default" / "seed0.log").read_text()
        assert "Distributed launcher: pytorch" in log and "Distributed training: True" in log
    report = workdir / "reports" / "synthetic"
    assert report.is_dir() and any(report.iterdir()), out[-3000:]
    print(json.dumps({"report_files": len(list(report.iterdir()))}))
