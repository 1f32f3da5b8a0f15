"""Processes of this machine, by identity: which process started the pipeline, whether it still runs, which Snakemake
processes work in a folder. Stdlib only (the Snakefile and every job tool import it); Linux's /proc.

A process is identified by a *token* ``HOST:PID:START`` (START: its start time in clock ticks since boot, field 22 of
/proc/PID/stat), so a pid reused by a later process is not taken for the one that ended.
"""

import os
import socket


def _stat(pid):
    """The fields of /proc/PID/stat after the command name (state first), or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def start_time(pid):
    """A running process's start time (clock ticks since boot, as text); None if it is gone or a zombie."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def parent(pid):
    """The parent's pid of a process (0 if unknown)."""
    fields = _stat(pid)
    return int(fields[1]) if fields else 0


def token(pid=None):
    """The token ``HOST:PID:START`` of a running process (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{start_time(pid)}"


def parse_token(text):
    """``(host, pid, start)`` of a token; None if ``text`` is not one."""
    try:
        host, pid, start = text.strip().rsplit(":", 2)
        return host, int(pid), start
    except (AttributeError, ValueError):
        return None


def is_local(text):
    """Whether a token names a process of this machine (only those can be checked)."""
    parsed = parse_token(text)
    return parsed is not None and parsed[0] == socket.gethostname()


def alive(text):
    """Whether the process of a token of this machine still runs (the same process: same pid and start time).

    Args:
        text (str): a token of this machine (see :func:`is_local`).

    Returns:
        bool: False when it ended (a zombie counts as ended) or its pid now belongs to another process.
    """
    _, pid, start = parse_token(text)
    return start_time(pid) == start


def ancestors(pid=None):
    """The pids above a process (default: this one), its parent first."""
    found, pid = [], parent(os.getpid() if pid is None else pid)
    while pid > 0 and pid not in found:
        found.append(pid)
        pid = parent(pid)
    return found


def descendants(pid):
    """The pids below a process (children, grandchildren, ...), read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            children.setdefault(parent(int(entry)), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def is_snakemake(argv):
    """Whether a command line runs Snakemake: ``snakemake ...``, ``python .../snakemake ...`` (the console script)
    or ``python -m snakemake ...``."""
    names = [os.path.basename(a) for a in argv[:2]]
    return "snakemake" in names or any(a == "-m" and b == "snakemake" for a, b in zip(argv, argv[1:]))


def snakemakes_in(folder, exclude=()):
    """The live Snakemake processes of this machine whose working directory is ``folder``.

    Processes of other users whose working directory cannot be read are not seen.

    Args:
        folder (str): the working directory.
        exclude (Iterable[int]): pids to leave out (this process and its ancestors, say).

    Returns:
        list[int]: their pids.
    """
    folder, exclude, found = os.path.realpath(folder), set(exclude), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            cwd = os.readlink(f"/proc/{name}/cwd")
        except OSError:
            continue
        if is_snakemake(argv) and cwd == folder and start_time(int(name)) is not None:
            found.append(int(name))
    return found
