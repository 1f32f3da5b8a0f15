"""Wall time of the whole embedded default, old commit against new, side by side in one run.

For each side (a commit of this repository, cloned afresh as a user would; or ``worktree``, the files as they are
now, uncommitted changes included, copied; nothing of this checkout's ``results/`` comes along) the script runs
``snakemake --cores C`` in that tree with this environment's interpreter, as ``make run`` does, and prints the wall
time, the number of trainings, evaluations and epoch-detection jobs, and the report job's time (from Snakemake's
log timestamps, to the second). The sides run one after the other, never at once: each has the machine's C cores
to itself. The ratio new / old is the figure that carries to another machine; the absolute times belong to this
CPU (printed).

    .venv/bin/python benchmarks/bench_default_pipeline.py --side old=d568d88 --side new=worktree
    .venv/bin/python benchmarks/bench_default_pipeline.py --side new=worktree --keep /tmp/bench_default
    .venv/bin/python benchmarks/bench_default_pipeline.py --side old=0cb3cca --side headline=HEAD \
        --configfiles headline=configs/pipeline/default.yaml,configs/pipeline/headline_seeds.yaml

``--configfiles NAME=A.yaml,B.yaml`` runs that side with ``snakemake --configfile A.yaml B.yaml`` (paths in the side's
tree), as ``make run CONFIG="A.yaml B.yaml"`` does; a side without it runs its tree's embedded default.
``--keep DIR`` leaves the trees (and their results/ and reports/) in DIR. Prints the tables; asserts nothing.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--side", action="append", help="NAME=REF (a commit, or 'worktree'); default new=worktree")
    p.add_argument(
        "--configfiles",
        action="append",
        default=[],
        help="NAME=A.yaml[,B.yaml...]: that side runs snakemake --configfile A.yaml B.yaml (default: the embedded one)",
    )
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--keep", help="keep the trees here (default: a temporary folder)")
    return p.parse_args()


def tree_of(ref, dest):
    """``ref``'s files in ``dest`` (``worktree``: tracked and untracked, not ignored, files as they are now)."""
    if ref == "worktree":
        dest.mkdir(parents=True)
        files = subprocess.run(
            ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
        ).stdout.split(b"\0")
        for name in filter(None, (f.decode() for f in files)):
            if (REPO / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / name, dest / name)
        return
    # a clean clone at the commit, as a user's: the runs' provenance records its commit
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "checkout", "--quiet", ref], check=True)


def count_jobs(log_text, rule):
    return len(re.findall(rf"^(?:local)?rule {rule}:", log_text, flags=re.M))


def side_configfiles(specs, sides):
    """The ``--configfiles NAME=A.yaml,B.yaml`` options as side name -> list of config files.

    Raises:
        SystemExit: a spec without ``=`` or without files, a side named twice, or a name that is not a side.
    """
    files = {}
    for spec in specs:
        name, sep, listed = spec.partition("=")
        paths = [p for p in listed.split(",") if p]
        if not sep or not paths:
            sys.exit(f"--configfiles {spec!r}: expected NAME=A.yaml[,B.yaml...]")
        if name in files:
            sys.exit(f"--configfiles: side {name!r} is given twice; list all its files in one NAME=A.yaml,B.yaml")
        if name not in sides:
            sys.exit(f"--configfiles: {name!r} is not a side (sides: {', '.join(sides)}); add --side {name}=REF")
        files[name] = paths
    return files


def snakemake_command(cores, configfiles):
    """The side's Snakemake call: its embedded default, or ``--configfile`` with the files given."""
    command = [str(BIN / "snakemake"), "--cores", str(cores)]
    return command + (["--configfile", *configfiles] if configfiles else [])


def run_side(name, ref, cores, work, configfiles=()):
    tree = work / name
    tree_of(ref, tree)
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    log = work / f"{name}.snakemake.log"
    command = snakemake_command(cores, configfiles)
    print(f"[{name}] {ref}: {' '.join(['snakemake', *command[1:]])} in {tree} ...", flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run(command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    text = log.read_text()
    if proc.returncode:
        sys.exit(f"[{name}] snakemake failed ({proc.returncode}); see {log}")
    return dict(
        ref=ref,
        wall=wall,
        trainings=count_jobs(text, "train"),
        evaluations=count_jobs(text, "evaluate"),
        epoch_detections=count_jobs(text, "epoch_detections"),
        report=report_seconds(text),
        log=str(log),
    )


def report_seconds(text):
    """Seconds from the report job's start to its end, from Snakemake's log timestamps (None if not found).

    Snakemake writes ``[date]`` before each job's ``rule report:`` block and before its ``Finished jobid: N (Rule:
    report)`` line (``Finished job N.`` in older versions, matched through the job id).
    """
    blocks = re.split(r"^\[(\w{3} \w{3} +\d+ [\d:]{8} \d{4})\]$", text, flags=re.M)
    started = job = None
    for stamp, body in zip(blocks[1::2], blocks[2::2]):
        when = time.mktime(time.strptime(stamp, "%a %b %d %H:%M:%S %Y"))
        if re.search(r"^(?:local)?rule report:", body, re.M):
            started = when
            found = re.search(r"jobid: (\d+)", body)
            job = found.group(1) if found else None
        elif started is not None and re.search(
            rf"^Finished job(?:id:)? {job}\b|^Finished jobid: \d+ \(Rule: report\)", body, re.M
        ):
            return when - started
    return None


def side_pairs(specs):
    """``NAME=REF`` per side as ``(name, ref)`` pairs, in the order given (None: the one side ``new=worktree``).

    Raises:
        SystemExit: a spec without ``=``, with an empty name or ref, or a name given twice (before anything runs).
    """
    pairs = []
    for spec in specs or ["new=worktree"]:
        name, _, ref = spec.partition("=")
        if not name or not ref:
            sys.exit(f"--side {spec!r}: expected NAME=REF, a git commit or 'worktree' (e.g. --side old=0cb3cca)")
        if name in dict(pairs):
            sys.exit(f"--side: the name {name!r} is given twice; give each side its own name")
        pairs.append((name, ref))
    return pairs


def run_sides(specs, keep, prefix, run_one):
    """Run each side one after the other; shared by the side-by-side benchmarks.

    Prints the CPU and the load average first. Each side runs as ``run_one(name, ref, work)`` in a folder ``work``
    (``keep``, else a temporary folder removed afterwards).

    Args:
        specs (list[str] | None): ``NAME=REF`` per side (None: ``new=worktree``).
        keep (str | None): the folder to keep the trees in.
        prefix (str): the temporary folder's name prefix.
        run_one (callable): runs one side, returns its result dict (with ``ref`` and ``wall``).

    Returns:
        dict: side name -> its result, in the order given.
    """
    sys.path.insert(0, str(REPO))
    from dynrcnn.provenance import cpu_model

    print(f"CPU: {cpu_model()}; {os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        return {name: run_one(name, ref, work) for name, ref in side_pairs(specs)}


def print_ratios(results):
    """Each later side's wall time over the first side's, then the load average at the end."""
    names = list(results)
    for name in names[1:]:
        print(f"{name} / {names[0]}: wall {results[name]['wall'] / results[names[0]]['wall']:.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


def table_lines(results):
    """The printed table: a header, then one row per side (ref, job counts, wall minutes, report seconds)."""
    width = max(8, *(len(name) + 1 for name in results))  # a long side name keeps a space before the ref
    lines = [
        f"{'side':<{width}}{'ref':<12}{'trainings':>10}{'evals':>7}{'epoch det.':>11}{'wall (min)':>12}"
        f"{'report (s)':>12}"
    ]
    for name, r in results.items():
        rep = "?" if r["report"] is None else f"{r['report']:.0f}"
        lines.append(
            f"{name:<{width}}{r['ref'][:11]:<12}{r['trainings']:>10}{r['evaluations']:>7}{r['epoch_detections']:>11}"
            f"{r['wall'] / 60:>12.2f}{rep:>12}"
        )
    return lines


def main():
    args = parse_args()
    configfiles = side_configfiles(args.configfiles, [name for name, _ in side_pairs(args.side)])
    results = run_sides(
        args.side,
        args.keep,
        "bench_default_",
        lambda name, ref, work: run_side(name, ref, args.cores, work, configfiles.get(name, ())),
    )
    print("\n" + "\n".join(table_lines(results)))
    print_ratios(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
