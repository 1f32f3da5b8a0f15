"""Wall time of ``make test``, old commit against new, side by side in one run.

For each side (a commit of this repository cloned afresh, or ``worktree``: the files as they are now, copied) the
script runs that tree's own ``make test`` (its lint, then all its tests, with its own pytest options) with this
environment (``VENV``; the environment is not rebuilt: its setup stamp is taken as up to date) and prints the wall
time and pytest's summary line (how many tests passed, failed, skipped). The sides run one after the other, never at
once, so each has the machine to itself; the ratio new / old is the figure that carries to another machine, the
absolute times belong to this CPU (printed with the load average before and after).

    .venv/bin/python benchmarks/bench_make_test.py --side old=0cb3cca --side new=worktree

``--keep DIR`` leaves the trees and each side's output (``NAME.make-test.log``) in DIR. Prints the table; asserts
nothing (a side whose tests fail is still timed: its summary line says so).
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.executable).parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_default_pipeline import print_ratios, run_sides, tree_of  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--side", action="append", help="NAME=REF (a commit, or 'worktree'); default new=worktree")
    p.add_argument("--keep", help="keep the trees and logs here (default: a temporary folder)")
    return p.parse_args(argv)


def make_test_command(venv):
    """``make test`` of a tree with the environment ``venv``, its setup stamp taken as up to date (``-o``)."""
    return ["make", f"VENV={venv}", "-o", f"{venv}/.setup-complete", "test"]


def summary_line(text):
    """pytest's last ``=== N passed ... in Ns ===`` line of ``text`` (None if there is none)."""
    found = re.findall(r"^=+ (.*\d+ (?:passed|failed|error).*) =+$", text, flags=re.M)
    return found[-1] if found else None


def run_side(name, ref, work):
    tree = work / name
    tree_of(ref, tree)
    # the tree's own packages, not those an editable install of this checkout would give
    env = dict(os.environ, PYTHONPATH=str(tree), PATH=f"{VENV / 'bin'}:{os.environ['PATH']}")
    log = work / f"{name}.make-test.log"
    print(f"[{name}] {ref}: make test in {tree} (load average {os.getloadavg()[0]:.2f}) ...", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run(make_test_command(VENV), cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    return dict(ref=ref, wall=wall, rc=proc.returncode, summary=summary_line(log.read_text()) or "?", log=str(log))


def main(argv=None):
    args = parse_args(argv)
    results = run_sides(args.side, args.keep, "bench_make_test_", run_side)
    print(f"\n{'side':<8}{'ref':<12}{'rc':>4}{'wall (min)':>12}  pytest summary")
    for name, r in results.items():
        print(f"{name:<8}{r['ref'][:11]:<12}{r['rc']:>4}{r['wall'] / 60:>12.2f}  {r['summary']}")
    print_ratios(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
