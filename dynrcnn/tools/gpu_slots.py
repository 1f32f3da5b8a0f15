"""Give each job of a local GPU node its own GPUs: claim free GPU slots, set CUDA_VISIBLE_DEVICES, exec the job.

Snakemake counts the ``gpu`` resource but never says which GPUs a job may use, so jobs side by side on one
workstation would all run on cuda:0. The pipeline's train and evaluate rules start their command through this
launcher::

    python -m dynrcnn.tools.gpu_slots --gpus N [--lock-dir DIR] -- CMD ARGS...

GPU i of the node is the lock file DIR/gpu{i}.lock. The launcher takes N free ones (flock), sets
CUDA_VISIBLE_DEVICES to their indices and replaces itself with CMD (exec): the job's process keeps the locks, and the
kernel releases them when it ends, however it ends (SIGKILL included). With N == 0 the job runs on the CPU
(CUDA_VISIBLE_DEVICES='' hides the GPUs); with CUDA_VISIBLE_DEVICES already set (SLURM, or the user's choice) CMD
runs unchanged. No torch import: a job starts in milliseconds.
"""

import argparse
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time

from dynrcnn.tools import orphan_guard

PREFIX = "gpu_slots:"
DEFAULT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "dynrcnn-gpu-locks")
RETRY_S = 1.0
REPORT_EVERY_S = 60.0


def gpu_count():
    """The node's GPU count, without importing torch.

    Returns:
        int: ``DYNRCNN_NUM_GPUS`` if set; else the ``GPU n: ...`` lines of ``nvidia-smi -L``; else (no nvidia-smi,
        e.g. in a container) the /dev/nvidiaN devices; else 0.

    Raises:
        ValueError: ``DYNRCNN_NUM_GPUS`` is not a non-negative integer.
    """
    override = os.environ.get("DYNRCNN_NUM_GPUS")
    if override is not None:
        if not override.strip().isdigit():
            raise ValueError(f"DYNRCNN_NUM_GPUS={override!r} is not a GPU count")
        return int(override)
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=60, check=True).stdout
        # MIG instances are indented lines under their GPU: one slot per physical GPU
        return sum(1 for line in listing.splitlines() if line.startswith("GPU "))
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return sum(1 for name in os.listdir("/dev") if re.fullmatch(r"nvidia[0-9]+", name))
    except OSError:
        return 0


def try_claim(lock_dir, count, n):
    """Lock ``n`` of the node's ``count`` GPU slots if that many are free, lowest indices first (never blocks).

    Args:
        lock_dir (str): folder of the lock files, gpu{i}.lock (on a local file system: flock).
        count (int): GPUs of the node.
        n (int): GPUs wanted.

    Returns:
        dict[int, int] | None: GPU index -> open file descriptor holding its lock; None, holding nothing, when fewer
        than ``n`` are free.
    """
    held = {}
    for index in range(count):
        # read-only is enough for flock, and works on a lock file another user of the node created
        fd = os.open(os.path.join(lock_dir, f"gpu{index}.lock"), os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        held[index] = fd
        if len(held) == n:
            return held
    # give back a partial claim: two waiting jobs must not each hold part of what the other needs
    for fd in held.values():
        os.close(fd)
    return None


def wait_for_slots(lock_dir, count, n):
    """Claim ``n`` GPU slots, retrying every second until enough are free (a line on stderr at most once a minute).

    Returns:
        dict[int, int]: GPU index -> open file descriptor holding its lock.
    """
    last_report = None
    while True:
        held = try_claim(lock_dir, count, n)
        if held is not None:
            return held
        if last_report is None or time.monotonic() - last_report >= REPORT_EVERY_S:
            print(
                f"{PREFIX} waiting for {n} of the {count} GPUs to be free (locks in {lock_dir})",
                file=sys.stderr,
                flush=True,
            )
            last_report = time.monotonic()
        time.sleep(RETRY_S)


def _exec(cmd):
    """Replace this process with ``cmd`` (same pid: the job's signals and exit status are the command's own)."""
    try:
        os.execvp(cmd[0], cmd)
    except OSError as error:
        sys.exit(f"{PREFIX} cannot run {cmd[0]!r}: {error}")


def main(argv=None):
    """Parse ``--gpus N [--lock-dir DIR] -- CMD ARGS...``, give CMD its GPUs and exec it (returns only on an error).

    Args:
        argv (list[str] | None): the arguments; ``sys.argv[1:]`` when None.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m dynrcnn.tools.gpu_slots", description=__doc__.split("\n")[0])
    parser.add_argument("--gpus", type=int, required=True, help="GPUs for the job (0: CPU, the GPUs hidden)")
    parser.add_argument("--lock-dir", default=DEFAULT_LOCK_DIR, help="node-wide lock folder (default: %(default)s)")
    # everything after the first '--' is the command, options included
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("give the command after --: ... -- CMD ARGS...")
    split = argv.index("--")
    args, cmd = parser.parse_args(argv[:split]), argv[split + 1 :]
    if args.gpus < 0:
        parser.error(f"--gpus must be >= 0, got {args.gpus}")
    if args.gpus == 0:
        # gpus_per_job 0 means CPU: a job that declared no GPU must not take cuda:0 from the GPU jobs (mmengine
        # trains on a GPU whenever it sees one); a preset CUDA_VISIBLE_DEVICES is the user's choice
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
        _exec(cmd)
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        # SLURM (or the user) already chose this job's GPUs
        print(
            f"{PREFIX} CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']} already set; not assigning GPUs",
            file=sys.stderr,
            flush=True,
        )
        _exec(cmd)
    try:
        count = gpu_count()
    except ValueError as error:
        sys.exit(f"{PREFIX} {error}")
    if args.gpus > count:
        sys.exit(
            f"{PREFIX} gpus_per_job is {args.gpus} but this node has {count} GPU(s); lower gpus_per_job in "
            "the pipeline config (or set CUDA_VISIBLE_DEVICES yourself)"
        )
    if not os.path.isdir(args.lock_dir):
        os.makedirs(args.lock_dir, exist_ok=True)
        try:
            os.chmod(args.lock_dir, 0o1777)  # node-wide: every user's jobs share the GPUs, as in /tmp
        except OSError:
            pass
    orphan_guard.install()  # a job waiting for GPUs ends with the pipeline that started it (ends at the exec)
    held = wait_for_slots(args.lock_dir, count, args.gpus)
    for fd in held.values():
        os.set_inheritable(fd, True)  # kept open across exec: the locks last as long as the job's process
    visible = ",".join(str(index) for index in held)
    os.environ["CUDA_VISIBLE_DEVICES"] = visible
    print(
        f"{PREFIX} this job uses GPU(s) {visible} of {count} (CUDA_VISIBLE_DEVICES={visible})",
        file=sys.stderr,
        flush=True,
    )
    _exec(cmd)


if __name__ == "__main__":
    main()
