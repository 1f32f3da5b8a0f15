"""dynrcnn.processes: the process tree as /proc shows it."""

import os
import subprocess
import time

from dynrcnn import processes


def test_descendants_are_children_and_grandchildren():
    shell = subprocess.Popen(["bash", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(processes.descendants(shell.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        below = processes.descendants(shell.pid)
        assert len(below) == 2 and all(processes.parent(pid) == shell.pid for pid in below)
        assert shell.pid in processes.descendants(os.getpid())  # and the shell is below this test
        assert set(below) <= set(processes.descendants(os.getpid()))
    finally:
        for pid in processes.descendants(shell.pid):
            os.kill(pid, 9)
        shell.wait()
