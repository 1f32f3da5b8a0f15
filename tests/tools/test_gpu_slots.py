"""dynrcnn.tools.gpu_slots as the rules run it: real subprocesses on a pretend 4-GPU node (DYNRCNN_NUM_GPUS=4)."""

import os
import signal
import subprocess
import sys
import time

import pytest

# The job: writes its pid and CUDA_VISIBLE_DEVICES, then runs until its release file exists and exits with a code.
JOB = """
import os, sys, time
release, code = sys.argv[1], int(sys.argv[2])
print(f'{os.getpid()}|{os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>")}', flush=True)
while not os.path.exists(release):
    time.sleep(0.05)
sys.exit(code)
"""
WAIT_S = 60  # generous: only a broken launcher ever waits this long


class Job:
    """One launcher subprocess; its stdout and stderr go to files in ``tmp_path``."""

    def __init__(self, tmp_path, name, gpus, env, code=0):
        self.release = tmp_path / f"{name}.release"
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        cmd = [
            sys.executable,
            "-m",
            "dynrcnn.tools.gpu_slots",
            "--gpus",
            str(gpus),
            "--lock-dir",
            str(tmp_path / "locks"),
            "--",
            sys.executable,
            "-c",
            JOB,
            str(self.release),
            str(code),
        ]
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)

    def started(self):
        """(pid, CUDA_VISIBLE_DEVICES) the job printed, None while it has not started."""
        line = self.out.read_text()
        if not line.endswith("\n"):
            return None
        pid, visible = line.strip().split("|")
        return int(pid), visible

    def wait_started(self):
        _wait_until(lambda: self.started() or self.proc.poll() is not None, f"{self.out.name} never started")
        assert self.started(), f"exited {self.proc.returncode} before starting: {self.err.read_text()}"
        return self.started()

    def finish(self):
        self.release.touch()
        return self.proc.wait(timeout=WAIT_S)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT_S)


def _wait_until(predicate, message):
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def env():
    env = dict(os.environ, DYNRCNN_NUM_GPUS="4")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.fixture
def jobs():
    started = []
    yield started
    for job in started:  # never leave a blocked job behind, whatever failed
        job.kill()


def _gpus(visible):
    return {int(i) for i in visible.split(",")}


def test_concurrent_jobs_get_disjoint_gpus_and_a_third_waits(tmp_path, env, jobs):
    first, second = Job(tmp_path, "first", 2, env), Job(tmp_path, "second", 2, env)
    jobs += [first, second]
    (pid1, vis1), (pid2, vis2) = first.wait_started(), second.wait_started()
    assert len(_gpus(vis1)) == 2 and len(_gpus(vis2)) == 2
    assert _gpus(vis1) | _gpus(vis2) == {0, 1, 2, 3}  # disjoint and covering the node
    # exec: the launcher's process is the job itself (signals reach it, its exit status is the job's)
    assert (pid1, pid2) == (first.proc.pid, second.proc.pid)
    assert "this job uses GPU(s)" in first.err.read_text()

    third = Job(tmp_path, "third", 2, env)
    jobs.append(third)
    _wait_until(lambda: "waiting for 2 of the 4 GPUs" in third.err.read_text(), "the third job never said it waits")
    assert third.started() is None and third.proc.poll() is None
    assert first.finish() == 0
    assert _gpus(third.wait_started()[1]) == _gpus(vis1)  # exactly the GPUs the first job freed
    assert second.proc.poll() is None  # the second still holds its own
    assert second.finish() == 0 and third.finish() == 0


def test_a_killed_job_frees_its_gpus(tmp_path, env, jobs):
    first = Job(tmp_path, "first", 3, env)
    jobs.append(first)
    assert _gpus(first.wait_started()[1]) == {0, 1, 2}
    second = Job(tmp_path, "second", 2, env)  # only GPU 3 is free
    jobs.append(second)
    _wait_until(lambda: "waiting" in second.err.read_text(), "the second job never said it waits")
    first.proc.send_signal(signal.SIGKILL)  # no cleanup runs: the kernel drops the locks with the process
    first.proc.wait(timeout=WAIT_S)
    assert len(_gpus(second.wait_started()[1])) == 2
    assert second.finish() == 0


def test_preset_cuda_visible_devices_passes_through(tmp_path, env, jobs):
    env["CUDA_VISIBLE_DEVICES"] = "7,5"  # as SLURM sets it: not even among the 4 the launcher would hand out
    job = Job(tmp_path, "slurm", 2, env)
    jobs.append(job)
    assert job.wait_started()[1] == "7,5"
    assert job.finish() == 0
    assert not (tmp_path / "locks").exists()  # no slot was claimed
    assert "already set" in job.err.read_text()


def test_zero_gpus_runs_on_the_cpu(tmp_path, env, jobs):
    job = Job(tmp_path, "cpu", 0, env)
    jobs.append(job)
    pid, visible = job.wait_started()
    assert visible == "" and pid == job.proc.pid  # GPUs hidden: gpus_per_job 0 means CPU
    assert job.finish() == 0
    assert job.err.read_text() == ""  # the CPU jobs' logs stay as they were
    assert not (tmp_path / "locks").exists()


def test_zero_gpus_keeps_a_preset_choice(tmp_path, env, jobs):
    env["CUDA_VISIBLE_DEVICES"] = "1"
    job = Job(tmp_path, "cpu_preset", 0, env)
    jobs.append(job)
    assert job.wait_started()[1] == "1"
    assert job.finish() == 0


def test_more_gpus_than_the_node_has_is_an_error(tmp_path, env, jobs):
    job = Job(tmp_path, "big", 5, env)
    jobs.append(job)
    assert job.proc.wait(timeout=WAIT_S) != 0
    error = job.err.read_text()
    assert "gpus_per_job is 5" in error and "has 4 GPU" in error, error
    assert job.out.read_text() == ""  # the command never ran


@pytest.mark.parametrize("gpus", [0, 2])
def test_the_command_exit_code_is_propagated(tmp_path, env, jobs, gpus):
    job = Job(tmp_path, "failing", gpus, env, code=3)
    jobs.append(job)
    job.wait_started()
    assert job.finish() == 3
