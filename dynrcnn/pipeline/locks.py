"""Snakemake's lock of a working directory, cleared when it is stale: a crashed pipeline reruns without ``--unlock``.

Snakemake locks the files of a run in ``.snakemake/locks/`` (``N.input.lock``, ``N.output.lock``) and removes the
lock when it ends; a Snakemake that was killed leaves it behind, and every later run fails with ``LockException``
until the user runs ``snakemake --unlock``. The Snakefile calls :func:`clear_stale_lock` while it is parsed in the
main Snakemake process, before Snakemake checks the lock: the lock is removed, with a line on stderr saying so,
only when

* no other Snakemake process of this machine works in the directory (its working directory is the same; this
  process and its ancestors are not counted), and
* the Snakemake that last took the lock here (its process token in :data:`OWNER_FILE`, written by this function)
  ran on this machine: a lock taken on another machine sharing the directory (a second login node) is left alone,
  and the line says so.

Otherwise the lock stays and Snakemake refuses to start as before (a second live Snakemake in the directory is
still refused). Only Snakemake's default file persistence is handled (not ``--persistence-backend db``).
"""

import os
import re

from dynrcnn import processes

LOCK_DIR = os.path.join(".snakemake", "locks")
_LOCK_FILE = re.compile(r"[0-9]+\.(input|output)\.lock")
#: The process token of the Snakemake that last took (or was about to take) the lock in this directory.
OWNER_FILE = os.path.join(".snakemake", "dynrcnn_lock_owner")


def lock_files(workdir):
    """Snakemake's lock files in a working directory (sorted paths; empty when it is not locked)."""
    folder = os.path.join(workdir, LOCK_DIR)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(os.path.join(folder, name) for name in names if _LOCK_FILE.fullmatch(name))


def read_owner(workdir):
    """The token recorded in :data:`OWNER_FILE` (None if there is none)."""
    try:
        with open(os.path.join(workdir, OWNER_FILE), encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None


def write_owner(workdir, token=None):
    """Record this process (or ``token``) as the Snakemake about to lock ``workdir``."""
    path = os.path.join(workdir, OWNER_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write((token or processes.token()) + "\n")


def clear_stale_lock(workdir, pid=None):
    """Remove Snakemake's lock of ``workdir`` when it is stale (see the module docstring); record this process as
    the directory's Snakemake when the lock is (then) free.

    Args:
        workdir (str): the working directory of the Snakemake process (the one it locks).
        pid (int | None): the Snakemake process (default: this one); it and its ancestors are not counted as
            other Snakemake processes.

    Returns:
        str | None: a line for stderr saying what was done (None when there was no lock).
    """
    pid = os.getpid() if pid is None else pid
    locks = lock_files(workdir)
    if not locks:
        write_owner(workdir, processes.token(pid))
        return None
    where = os.path.join(workdir, LOCK_DIR)
    owner = read_owner(workdir)
    if owner and not processes.is_local(owner):
        host = processes.parse_token(owner)
        return (
            f"{where} is locked by a Snakemake of another machine ({host[0] if host else owner}); it is not cleared. "
            "If no Snakemake runs in this directory there, run snakemake --unlock"
        )
    others = processes.snakemakes_in(workdir, exclude=[pid, *processes.ancestors(pid)])
    if others:
        return (
            f"{where} is locked and Snakemake (pid {', '.join(map(str, others))}) runs in this directory: the lock "
            "is kept"
        )
    for path in locks:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    write_owner(workdir, processes.token(pid))
    previous = processes.parse_token(owner) if owner else None
    by = f" by Snakemake pid {previous[1]}, which has ended" if previous and not processes.alive(owner) else ""
    return (
        f"Cleared the stale lock {where} ({len(locks)} file(s)) left{by}: no other Snakemake runs in this "
        "directory (no --unlock needed)"
    )
