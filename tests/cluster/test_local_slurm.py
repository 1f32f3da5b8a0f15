"""Cluster rehearsal: jobs, fake GPUs and Snakemake's SLURM executor on a real single-node cluster.

The cluster (tests/cluster/conftest.py, scripts/local_slurm.sh) has this machine's CPUs and two fake GPUs: Slurm
allocates them and sets CUDA_VISIBLE_DEVICES, but there is no CUDA behind them. Run alone with `make test-cluster`.
"""

import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"

TWO_RULES = """
localrules: all

rule all:
    input: "b.txt"

rule a:
    output: "a.txt"
    resources: mem_mb=500, runtime=5
    shell: "echo $SLURM_JOB_ID > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    resources: mem_mb=500, runtime=5
    shell: "cat {input} > {output}; echo $SLURM_JOB_ID >> {output}"
"""

# a stand-in for the pipeline's training: gpu=N, the job's CPUs from the resources given on the command line or by
# the profile; it records what the job sees
TRAIN_RULE = """
localrules: all

rule all:
    input: "train.txt"

rule train:
    output: "train.txt"
    threads: {cpus}
    resources: gpu={gpus}, mem_mb=1000, runtime=10{extra}
    shell:
        "echo cuda_visible_devices=$CUDA_VISIBLE_DEVICES cpus_per_task=$SLURM_CPUS_PER_TASK "
        "ntasks=$SLURM_NTASKS nproc=$(nproc) > {{output}}"
"""


def submitted_job_ids(output):
    """The SLURM job ids a snakemake run reports submitting."""
    return [int(j) for j in re.findall(r"submitted with SLURM jobid (\d+)", output)]


def sbatch_calls(output):
    """The sbatch command lines a `snakemake --verbose` run logs."""
    return re.findall(r"sbatch call: (sbatch .*)", output)


def test_sbatch_wrap_job_is_accounted(slurm_cluster, tmp_path):
    out = tmp_path / "job.out"
    job = slurm_cluster.sbatch("--wrap", "echo rehearsal", "-o", str(out), "-t", "1", "--mem", "100")
    row = slurm_cluster.wait_final(job)
    assert row["State"] == "COMPLETED", row
    assert out.read_text().strip() == "rehearsal"


def test_two_gpu_job_sees_two_devices(slurm_cluster, tmp_path):
    out = tmp_path / "gpus.out"
    job = slurm_cluster.sbatch(
        f"--gpus={slurm_cluster.gpus}", "-t", "1", "--mem", "100", "-o", str(out),
        "--wrap", "echo $CUDA_VISIBLE_DEVICES",
    )  # fmt: skip
    row = slurm_cluster.wait_final(job)
    assert row["State"] == "COMPLETED", row
    assert f"gres/gpu={slurm_cluster.gpus}" in row["AllocTRES"], row
    devices = out.read_text().strip().split(",")
    assert len(devices) == slurm_cluster.gpus == 2, devices


def test_snakemake_workflow_through_slurm(slurm_cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(TWO_RULES)
    proc = slurm_cluster.snakemake(tmp_path)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "3 of 3 steps (100%) done" in proc.stdout, proc.stdout[-3000:]
    jobs = submitted_job_ids(proc.stdout)
    assert len(jobs) == 2, proc.stdout[-3000:]
    # each rule ran inside its own SLURM job, and the accounting saw both finish
    assert sorted(int(j) for j in (tmp_path / "b.txt").read_text().split()) == sorted(jobs)
    for job in jobs:
        assert slurm_cluster.wait_final(job)["State"] == "COMPLETED", slurm_cluster.sacct("-j", str(job))


def check_training_job(cluster, workdir, proc):
    """A 2-GPU training job asked for the node's CPUs as one task, sbatch took it, and the job saw its CPUs."""
    calls = sbatch_calls(proc.stdout)
    assert len(calls) == 1, proc.stdout[-5000:]
    call = calls[0]
    assert proc.returncode == 0, f"{call}\n{proc.stdout[-5000:]}"
    assert f"--gpus={cluster.gpus}" in call, call
    assert "--ntasks-per-gpu" not in call, call
    (job,) = submitted_job_ids(proc.stdout)
    row = cluster.wait_final(job)
    assert row["State"] == "COMPLETED", row
    # the allocation: all the node's CPUs, both GPUs, for one task
    assert int(row["AllocCPUS"]) == cluster.cpus, row
    assert f"gres/gpu={cluster.gpus}" in row["AllocTRES"], row
    seen = dict(item.split("=", 1) for item in (workdir / "train.txt").read_text().split())
    assert len(seen["cuda_visible_devices"].split(",")) == cluster.gpus, seen
    assert int(seen["cpus_per_task"]) == cluster.cpus, seen
    assert int(seen["ntasks"]) == 1, seen
    assert int(seen["nproc"]) >= cluster.cpus, seen
    return call


def test_gpu_job_cpus_default_is_multiplied(slurm_cluster, tmp_path):
    """The bug: with only gpu=N, the plugin adds --ntasks-per-gpu=1 and the job asks N x cpus_per_task CPUs."""
    cpus, gpus = slurm_cluster.cpus, slurm_cluster.gpus
    (tmp_path / "Snakefile").write_text(TRAIN_RULE.format(cpus=cpus, gpus=gpus, extra=f", cpus_per_task={cpus}"))
    proc = slurm_cluster.snakemake(tmp_path, "--verbose")
    calls = sbatch_calls(proc.stdout)
    assert calls and "--ntasks-per-gpu=1" in calls[0], proc.stdout[-5000:]
    assert f"--cpus-per-task={cpus}" in calls[0], calls[0]
    # gpus tasks of cpus CPUs each: more than the node has, so sbatch refuses the job
    assert proc.returncode != 0
    assert "SLURM sbatch failed" in proc.stdout, proc.stdout[-5000:]


def test_gpu_job_tasks_per_gpu_0_asks_the_node_cpus(slurm_cluster, tmp_path):
    """The fix: tasks_per_gpu=0 drops --ntasks-per-gpu; the job is one task with cpus_per_task CPUs, any GPU count."""
    cpus, gpus = slurm_cluster.cpus, slurm_cluster.gpus
    extra = f", cpus_per_task={cpus}, tasks_per_gpu=0"
    (tmp_path / "Snakefile").write_text(TRAIN_RULE.format(cpus=cpus, gpus=gpus, extra=extra))
    proc = slurm_cluster.snakemake(tmp_path, "--verbose")
    call = check_training_job(slurm_cluster, tmp_path, proc)
    assert f"--cpus-per-task={cpus}" in call, call


def test_slurm_profile_training_asks_the_node_cpus(slurm_cluster, tmp_path):
    """workflow/profiles/slurm's training resources, with this node's partition and CPU count, give a valid job."""
    cpus, gpus = slurm_cluster.cpus, slurm_cluster.gpus
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    profile["default-resources"]["slurm_partition"] = slurm_cluster.partition
    profile["default-resources"].pop("cpus_per_task", None)
    train = profile.setdefault("set-resources", {}).setdefault("train", {})
    # the profile's CPU count is a real node's; this node's replaces it, in whichever resource the profile uses
    if "cpus_per_gpu" in train:
        train["cpus_per_gpu"] = cpus // gpus
    else:
        train["cpus_per_task"] = cpus
    profile.setdefault("set-threads", {})["train"] = cpus
    profile["retries"] = 0
    profile["latency-wait"] = 10
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / "Snakefile").write_text(TRAIN_RULE.format(cpus=1, gpus=gpus, extra=""))
    proc = slurm_cluster.snakemake(tmp_path, "--verbose", "--workflow-profile", str(tmp_path / "profile"))
    check_training_job(slurm_cluster, tmp_path, proc)
