"""Cluster rehearsal: jobs, fake GPUs and Snakemake's SLURM executor on a real single-node cluster.

The cluster (tests/cluster/conftest.py, scripts/local_slurm.sh) has this machine's CPUs and two fake GPUs: Slurm
allocates them and sets CUDA_VISIBLE_DEVICES, but there is no CUDA behind them. Run alone with `make test-cluster`.
"""

import re

import pytest

pytestmark = pytest.mark.cluster

# a stand-in for the pipeline's training without the profile's fix: gpu=N and cpus_per_task only
TRAIN_RULE = """
localrules: all

rule all:
    input: "train.txt"

rule train:
    output: "train.txt"
    threads: {cpus}
    resources: gpu={gpus}, cpus_per_task={cpus}, mem_mb=1000, runtime=10
    shell: "touch {{output}}"
"""


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


def test_gpu_job_cpus_default_is_multiplied(slurm_cluster, tmp_path):
    """The bug: with only gpu=N, the plugin adds --ntasks-per-gpu=1 and the job asks N x cpus_per_task CPUs.

    The fix (the slurm profile's ``tasks_per_gpu: 0`` for the training: one task with the node's CPUs) is checked on
    the pipeline's own training jobs by tests/cluster/test_pipeline_on_slurm.py.
    """
    cpus, gpus = slurm_cluster.cpus, slurm_cluster.gpus
    (tmp_path / "Snakefile").write_text(TRAIN_RULE.format(cpus=cpus, gpus=gpus))
    proc = slurm_cluster.snakemake(tmp_path, "--verbose")
    calls = sbatch_calls(proc.stdout)
    assert calls and "--ntasks-per-gpu=1" in calls[0], proc.stdout[-5000:]
    assert f"--cpus-per-task={cpus}" in calls[0], calls[0]
    # gpus tasks of cpus CPUs each: more than the node has, so sbatch refuses the job
    assert proc.returncode != 0
    assert "SLURM sbatch failed" in proc.stdout, proc.stdout[-5000:]
