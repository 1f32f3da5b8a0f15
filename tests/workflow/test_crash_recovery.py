"""A crashed pipeline recovers by itself (issue 17, item 2), through the real `snakemake` and the project's Snakefile
on the tiny configuration (one arm): Snakemake is SIGKILLed while a training runs; the training ends by itself
(dynrcnn.tools.orphan_guard), the next `snakemake` clears the stale lock, saying so, and completes without
--unlock (dynrcnn.pipeline.locks), and while it runs a second `snakemake` in the same directory is refused.
Run alone with `pytest -m e2e tests/workflow/test_crash_recovery.py` (a few minutes on 2 CPU cores)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynrcnn import processes
from dynrcnn.pipeline import locks

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def _job_pid(snakemake_pid, module):
    """The process of a job of our snakemake that runs ``python -m module`` (None if there is none yet)."""
    for pid in processes.descendants(snakemake_pid):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if module in args and "dynrcnn.tools.gpu_slots" not in args:
            return pid
    return None


def _wait_for(condition, what, proc, log, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert proc is None or proc.poll() is None, f"snakemake ended before {what}:\n{log.read_text()[-5000:]}"
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {timeout} s:\n{log.read_text()[-5000:] if log else ''}")


def _start(work, config, log):
    cmd = [SNAKEMAKE, "-s", str(Path(__file__).resolve().parents[2] / "Snakefile"), "--directory", str(work)]
    cmd += ["--configfile", str(config), "--cores", "2"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


@pytest.mark.e2e
def test_a_killed_pipeline_ends_its_jobs_and_reruns_without_unlock(tmp_path, smk):
    work = tmp_path / "pipeline"
    work.mkdir()
    # no per-epoch detections: one job fewer after the training, which is what the test is about
    config = smk.write_config(
        tmp_path / "one_arm.yaml", base="tiny.yaml", arms=["baseline"], evaluate={"epoch_detections": False}
    )

    # 1. SIGKILL snakemake while the training runs
    first_log = tmp_path / "first.log"
    first = _start(work, config, first_log)
    training = _wait_for(lambda: _job_pid(first.pid, "dynrcnn.tools.train"), "training", first, first_log)
    train_log = work / "results" / "logs" / "train" / "synthetic" / "baseline" / "default" / "seed0.log"
    # the training has installed its guard once it has started logging (mmengine's environment report)
    _wait_for(lambda: train_log.exists() and train_log.stat().st_size > 0, "training log", first, first_log)
    job_processes = [training, *processes.descendants(training)]
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert locks.lock_files(str(work)), "the killed snakemake left no lock: nothing to recover from"

    # 2. the training ends by itself (its guard polls every second; the bound only keeps a hung test finite)
    try:
        _wait_for(lambda: all(processes.start_time(p) is None for p in job_processes), "end of the job", None, None, 30)
    finally:  # a job the guard missed would run on: end it (only the processes of this test's own snakemake)
        for pid in job_processes:
            if processes.start_time(pid) is not None:
                os.kill(pid, signal.SIGKILL)
    # ... cut short by its guard, not finished
    run = work / "results" / "runs" / "synthetic" / "baseline" / "default" / "seed0"
    assert not (run / "train_manifest.json").exists(), "the training finished before it could be seen to end"
    guard = [line for line in train_log.read_text().splitlines() if line.startswith("orphan_guard:")]
    assert guard and guard[0].startswith("orphan_guard: the pipeline that started this job (Snakemake, ")

    # 3. the next snakemake clears the stale lock and runs; a second one meanwhile is refused
    second_log = tmp_path / "second.log"
    second = _start(work, config, second_log)
    _wait_for(lambda: _job_pid(second.pid, "dynrcnn.tools.train"), "training of the rerun", second, second_log)
    refused = smk.run(work, configfiles=[config], timeout=300)
    assert refused.returncode != 0
    assert "LockException" in refused.stdout or "Directory cannot be locked" in refused.stdout, refused.stdout[-3000:]
    assert "runs in this directory: the lock is kept" in refused.stdout
    assert second.wait(timeout=1200) == 0, second_log.read_text()[-5000:]
    output = second_log.read_text()
    cleared = [line for line in output.splitlines() if line.startswith("Cleared the stale lock")]
    assert cleared == [
        f"Cleared the stale lock {work}/.snakemake/locks (2 file(s)) left by Snakemake pid {first.pid}, which has "
        "ended: no other Snakemake runs in this directory (no --unlock needed)"
    ]
    assert (run / "metrics.json").exists()
    assert not locks.lock_files(str(work))
    print("\n".join(guard + cleared + [line for line in refused.stdout.splitlines() if "lock" in line.lower()]))
