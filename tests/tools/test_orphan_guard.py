"""dynrcnn.tools.orphan_guard: a job ends when the pipeline (Snakemake) that started it has ended."""

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from dynrcnn import processes
from dynrcnn.tools import orphan_guard

REPO = Path(__file__).resolve().parents[2]


def test_nothing_is_installed_without_a_local_pipeline():
    assert orphan_guard.install(environ={}) is None
    assert orphan_guard.install(environ={orphan_guard.ENV: f"not-{socket.gethostname()}:1:2"}) is None


def test_export_names_this_process():
    environ = {}
    orphan_guard.export(environ)
    assert environ[orphan_guard.ENV] == processes.token()


def test_the_guard_fires_when_the_pipeline_has_ended():
    pipeline = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    ended = threading.Event()
    seen = []
    thread = orphan_guard.install(
        environ={orphan_guard.ENV: processes.token(pipeline.pid)},
        interval=0.05,
        on_end=lambda token: (seen.append(token), ended.set()),
    )
    assert thread is not None and thread.daemon
    assert not ended.wait(0.3)  # the pipeline runs: nothing happens
    pipeline.communicate(b"")
    assert ended.wait(60)
    assert seen == [f"{socket.gethostname()}:{pipeline.pid}:{seen[0].rsplit(':', 1)[1]}"]


def test_a_job_process_ends_itself_when_its_pipeline_is_killed():
    """A real job process (the guard installed as the tools install it) and a real pipeline process, SIGKILLed."""
    pipeline = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    env = dict(os.environ, PYTHONPATH=str(REPO), **{orphan_guard.ENV: processes.token(pipeline.pid)})
    job = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from dynrcnn.tools import orphan_guard; orphan_guard.install(); "
            "print('started', flush=True); time.sleep(600)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert job.stdout.readline() == "started\n"
        pipeline.kill()
        pipeline.wait()
        assert job.wait(timeout=60) == -signal.SIGTERM
        assert "orphan_guard: the pipeline that started this job (Snakemake, " in job.stderr.read()
    finally:
        for proc in (job, pipeline):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
