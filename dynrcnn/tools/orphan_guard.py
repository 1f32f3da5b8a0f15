"""A job ends when the pipeline that started it ends: no training or evaluation runs on after a killed Snakemake.

Snakemake runs a local job as a child shell; when Snakemake itself is killed (SIGKILL, a closed terminal, an OOM
kill), the job is not told and would run on, writing into files the next run remakes. The Snakefile therefore
records the pipeline in the environment every job inherits (:func:`export`, in the main Snakemake process only),
and each job tool calls :func:`install` first: a daemon thread checks every second that the pipeline's process
still runs, and when it has gone the job sends itself SIGTERM (then SIGKILL if it is still there a few seconds
later). Every process of a job installs it (each torchrun worker too: its agent exits when its workers die), so
nothing of the job is left.

The pipeline is named by a process token (:mod:`dynrcnn.processes`: host, pid and start time), so a reused pid is
not mistaken for the pipeline. A job on another machine (a SLURM job, which inherits the variable through sbatch)
cannot see the pipeline's process and is not guarded: the cluster ends its jobs (``scancel``). Without the variable
(a tool started by hand, the tests) nothing is installed.
"""

import os
import signal
import sys
import threading
import time

from dynrcnn import processes

#: The environment variable holding the pipeline's process token.
ENV = "DYNRCNN_PIPELINE"
PREFIX = "orphan_guard:"
#: Seconds between checks, and from SIGTERM to SIGKILL.
INTERVAL_S = 1.0
GRACE_S = 10.0


def export(environ=None):
    """Name this process (the main Snakemake process) as the pipeline of every job it starts from now on.

    Args:
        environ (dict | None): the environment to set (default ``os.environ``, which Snakemake's jobs inherit).
    """
    (os.environ if environ is None else environ)[ENV] = processes.token()


def end_job(pipeline):
    """End this job's process: a line on stderr, SIGTERM, and SIGKILL after :data:`GRACE_S` seconds."""
    print(
        f"{PREFIX} the pipeline that started this job (Snakemake, {pipeline}) has ended; ending the job "
        f"(pid {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os.kill(os.getpid(), signal.SIGKILL)


def _watch(pipeline, interval, on_end):
    while processes.alive(pipeline):
        time.sleep(interval)
    on_end(pipeline)


def install(environ=None, interval=INTERVAL_S, on_end=end_job):
    """Watch the pipeline named in the environment, in a daemon thread; end the job when it has gone.

    Args:
        environ (dict | None): where to read :data:`ENV` (default ``os.environ``).
        interval (float): seconds between checks.
        on_end (Callable[[str], None]): called with the pipeline's token once it has gone (default: :func:`end_job`).

    Returns:
        threading.Thread | None: the watching thread; None when no pipeline of this machine is named.
    """
    pipeline = (os.environ if environ is None else environ).get(ENV)
    if not pipeline or not processes.is_local(pipeline):
        return None
    thread = threading.Thread(target=_watch, args=(pipeline, interval, on_end), name="orphan_guard", daemon=True)
    thread.start()
    return thread
