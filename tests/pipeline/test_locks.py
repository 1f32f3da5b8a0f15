"""dynrcnn.pipeline.locks and dynrcnn.processes: a stale Snakemake lock is cleared, a live Snakemake's is kept."""

import os
import socket
import subprocess
import sys
import time

import pytest

from dynrcnn import processes
from dynrcnn.pipeline import locks


def _lock(workdir):
    folder = workdir / ".snakemake" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "0.input.lock").write_text(f"{workdir}/a\n")
    (folder / "0.output.lock").write_text(f"{workdir}/b\n")
    return sorted(str(p) for p in folder.iterdir())


def _ended_token():
    """The token of a process that ran on this machine and has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    token = processes.token(proc.pid)
    proc.communicate(b"")
    return token


@pytest.fixture
def fake_snakemake():
    """``fake_snakemake(cwd)``: a live process whose command line is ``snakemake`` working in ``cwd``."""
    started = []

    def start(cwd):
        proc = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 600"], cwd=cwd)
        started.append(proc)
        while not _cmdline(proc.pid).startswith(b"snakemake\0"):  # bash has not exec'ed yet
            assert proc.poll() is None
            time.sleep(0.01)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_no_lock_records_the_owner(tmp_path):
    assert locks.clear_stale_lock(str(tmp_path)) is None
    assert locks.read_owner(str(tmp_path)) == processes.token()


def test_a_stale_lock_is_cleared_saying_so(tmp_path):
    files = _lock(tmp_path)
    dead = _ended_token()
    locks.write_owner(str(tmp_path), dead)
    notice = locks.clear_stale_lock(str(tmp_path))
    assert notice.startswith(f"Cleared the stale lock {tmp_path}/.snakemake/locks (2 file(s)) left by Snakemake pid ")
    assert f"pid {processes.parse_token(dead)[1]}, which has ended" in notice and "no --unlock needed" in notice
    assert "\n" not in notice
    assert not any(os.path.exists(f) for f in files)
    assert locks.read_owner(str(tmp_path)) == processes.token()


def test_a_stale_lock_without_owner_record_is_cleared(tmp_path):
    _lock(tmp_path)
    assert "Cleared the stale lock" in locks.clear_stale_lock(str(tmp_path))
    assert locks.lock_files(str(tmp_path)) == []


def test_a_live_snakemake_in_the_directory_keeps_its_lock(tmp_path, fake_snakemake):
    files = _lock(tmp_path)
    other = fake_snakemake(tmp_path)
    notice = locks.clear_stale_lock(str(tmp_path))
    assert f"Snakemake (pid {other.pid}) runs in this directory: the lock is kept" in notice
    assert locks.lock_files(str(tmp_path)) == files


def test_a_snakemake_elsewhere_does_not_keep_the_lock(tmp_path, fake_snakemake):
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    _lock(tmp_path / "here")
    fake_snakemake(tmp_path / "elsewhere")
    assert "Cleared the stale lock" in locks.clear_stale_lock(str(tmp_path / "here"))


def test_the_callers_own_snakemake_ancestors_are_not_others(tmp_path, fake_snakemake):
    _lock(tmp_path)
    other = fake_snakemake(tmp_path)
    # the lock is judged for the fake snakemake itself: it does not count as another one
    assert "Cleared the stale lock" in locks.clear_stale_lock(str(tmp_path), pid=other.pid)


def test_a_lock_taken_on_another_machine_is_kept(tmp_path):
    files = _lock(tmp_path)
    locks.write_owner(str(tmp_path), f"not-{socket.gethostname()}:123:456")
    notice = locks.clear_stale_lock(str(tmp_path))
    assert "locked by a Snakemake of another machine (not-" in notice and "snakemake --unlock" in notice
    assert locks.lock_files(str(tmp_path)) == files


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["snakemake", "--cores", "all"], True),
        (["/venv/bin/python", "/venv/bin/snakemake", "-n"], True),
        (["python3", "-m", "snakemake", "--target-jobs", "x"], True),
        (["/usr/bin/snakemake"], True),
        (["python", "-m", "pytest", "tests/workflow/test_snakemake.py"], False),
        (["make", "run"], False),
        ([], False),
    ],
)
def test_is_snakemake(argv, expected):
    assert processes.is_snakemake(argv) is expected


def test_tokens_name_one_process():
    me = processes.token()
    assert processes.is_local(me) and processes.alive(me)
    host, pid, start = processes.parse_token(me)
    assert (host, pid) == (socket.gethostname(), os.getpid())
    assert not processes.alive(f"{host}:{pid}:{int(start) + 1}")  # the pid, reused by a later process
    assert not processes.alive(_ended_token())
    assert processes.parse_token("nonsense") is None and not processes.is_local("nonsense")
    assert os.getppid() == processes.ancestors()[0]
