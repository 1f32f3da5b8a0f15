"""The cluster rehearsal's fixture: a single-node SLURM cluster (scripts/local_slurm.sh), one per test session.

The fixture starts the cluster (installing the Debian packages when run as root and they are missing) and stops it
when the session ends, pass, fail, Ctrl-C or SIGTERM. It skips the tests when not root or when the packages cannot be
installed. Run alone with `make test-cluster` (`pytest -m cluster`).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "local_slurm.sh"
# the script's state (configs, daemons' logs and pid files); outside pytest's tmp dirs, which other users cannot read
STATE_DIR = Path(os.environ.get("DYNRCNN_SLURM_DIR", "/tmp/dynrcnn-slurm-test"))
CANNOT_INSTALL = 3  # the script's exit code when the packages are missing and cannot be installed
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# every snakemake run is bounded: one that waits forever on a job's status is killed (SIGKILL 10 s after SIGTERM)
SNAKEMAKE_TIMEOUT = ["timeout", "-k", "10", "600"]


@dataclass
class Cluster:
    """What the tests need to know about the running cluster, and small helpers."""

    partition: str
    cpus: int
    gpus: int
    mem_mb: int
    state_dir: Path

    def sacct(self, *args):
        """sacct's rows (allocations only) for ``args`` (e.g. ``-j 3``): a list of dicts."""
        fields = "JobID,JobName,State,AllocCPUS,AllocTRES,ExitCode"
        out = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-o", fields, *args], capture_output=True, text=True, check=True
        ).stdout
        keys = fields.split(",")
        return [dict(zip(keys, line.split("|"))) for line in out.splitlines() if line.strip()]

    def wait_final(self, job_id, timeout=120):
        """Wait until sacct shows job ``job_id`` in a final state; return its row."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.sacct("-j", str(job_id))
            if rows and rows[0]["State"] not in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING"):
                return rows[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} not finished after {timeout}s: {rows}")
            time.sleep(0.5)

    def sbatch(self, *args):
        """Submit with sbatch (``--parsable``); return the job id."""
        out = subprocess.run(["sbatch", "--parsable", "-p", self.partition, *args], capture_output=True, text=True)
        assert out.returncode == 0, f"sbatch refused {args}: {out.stderr}"
        return int(out.stdout.strip().split(";")[0])

    def snakemake(self, workdir, *args, executor_args=True, timeout_s=600):
        """Run snakemake in ``workdir`` (its own Snakefile, no profile) through this cluster; stdout+stderr merged.

        Args:
            workdir (Path): The working directory.
            *args (str): More snakemake arguments.
            executor_args (bool): Add the executor, partition, jobs and polling arguments (False: ``args`` give
                them, e.g. through a profile).
            timeout_s (int): Wall-clock bound of the run (``timeout -k 10``).
        """
        defaults = [
            "--executor",
            "slurm",
            "--default-resources",
            f"slurm_partition={self.partition}",
            "--jobs",
            "4",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--latency-wait",
            "10",
        ]
        cmd = [*SNAKEMAKE_TIMEOUT[:-1], str(timeout_s), SNAKEMAKE, *(defaults if executor_args else []), *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SNAKEMAKE_PROFILE", "SLURM_"))}
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            out, _ = proc.communicate()
        except BaseException:  # a failure, Ctrl-C or SIGTERM in the test: snakemake must not outlive it
            _end(proc)
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out)


def _end(proc):
    """Stop a `timeout ... snakemake` process: SIGTERM (timeout passes it on; snakemake cancels its SLURM jobs and
    timeout kills it 10 s later if need be), then SIGKILL to timeout's process group as the last resort."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # timeout leads a process group of its own, snakemake is in it
        proc.wait()


def _script(action, timeout):
    return subprocess.run(
        ["bash", str(SCRIPT), action, str(STATE_DIR)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def _stop():
    proc = _script("stop", timeout=180)
    sys.stderr.write(proc.stdout)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/local_slurm.sh stop failed ({proc.returncode}):\n{proc.stdout[-3000:]}")


def _sigterm(signum, frame):
    # turn SIGTERM into the KeyboardInterrupt pytest tears fixtures down on
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node SLURM cluster: partition 'debug', this machine's CPUs, two fake GPUs."""
    if os.geteuid() != 0:
        pytest.skip("the cluster rehearsal starts SLURM's daemons and installs its packages: it must run as root")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and apt-get is missing: cannot install slurm-wlm")
    previous = signal.signal(signal.SIGTERM, _sigterm)
    try:
        proc = _script("start", timeout=900)
        sys.stderr.write(proc.stdout)
        if proc.returncode == CANNOT_INSTALL:
            pytest.skip(f"the SLURM packages could not be installed:\n{proc.stdout[-2000:]}")
        if proc.returncode != 0:
            pytest.fail(f"scripts/local_slurm.sh start failed ({proc.returncode}):\n{proc.stdout[-5000:]}")
        env = dict(line.split("=", 1) for line in (STATE_DIR / "cluster.env").read_text().splitlines() if "=" in line)
        yield Cluster(
            partition=env["PARTITION"],
            cpus=int(env["CPUS"]),
            gpus=int(env["GPUS"]),
            mem_mb=int(env["MEM_MB"]),
            state_dir=STATE_DIR,
        )
    finally:
        try:
            _stop()
        finally:
            signal.signal(signal.SIGTERM, previous)
