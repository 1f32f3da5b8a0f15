"""Time the full report (every table and figure) of an older commit's ``analysis`` and of this tree, side by side.

Both reports are given the same runs, as the workflow gives them: either real finished runs (``--runs``, a family's
runs folder ``results/runs/{family}``, with ``--val-ann``/``--val-images`` for the sample figures) or fake runs of
realistic size (default: 4 arms x 3 seeds, ~1000 logged training iterations per run, 12 epochs with a detection file
each, 100 validation images x 100 detections; from tests/analysis/fake_runs.py). The old report runs from
``git archive {--old} analysis dynrcnn`` unpacked into a temporary folder (the commit's code, not this tree's); runs
alternate old, new, old, new, ... so that load changes hit both. Prints seconds and the ratio new / old (the aim of
issue 21: <= 1.2) and the project's target (<= 10 s); asserts nothing.

    .venv/bin/python benchmarks/bench_report.py [--old COMMIT] [--runs DIR --family F --dataset D] [--repeats 3]
"""

import argparse
import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from analysis.report import OUTPUTS  # noqa: E402
from dynrcnn.run_record import ARMS  # noqa: E402
from tests.analysis import fake_runs  # noqa: E402


def make_fixture(root, seeds, lines, epochs, images, dets_per_image):
    ann, img_dir, data = fake_runs.write_val_set(root / "data", num_images=images, size=256)
    runs = root / "runs" / "synthetic"
    log_interval = 50
    for i, arm in enumerate(ARMS):
        for seed in range(seeds):
            fake_runs.write_run(
                runs,
                arm,
                seed,
                0.30 + 0.01 * i + 0.002 * seed,
                val_data=data,
                iters=lines * log_interval,
                log_interval=log_interval,
                interval=100,
                epochs=epochs,
                dets_per_image=dets_per_image,
            )
    return runs, ann, img_dir


#: The commit before issue 21 (2-SE gains, no SUMMARY.md): the default "old" report.
OLD_COMMIT = "0cb3ccaa6206ae9b66ecbd86cda63e74d8e6e9a0"


def unpack_old(commit, dest):
    """``analysis/`` and ``dynrcnn/`` of ``commit`` in ``dest`` (``git archive``; the report imports nothing else)."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", commit, "analysis", "dynrcnn"], cwd=REPO, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def time_report(code_root, report_args, out_dir):
    """Run ``python -m analysis.report`` from ``code_root``; returns (wall s, CPU s of the child, files written)."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "analysis.report", *report_args, "--out-dir", str(out_dir)],
        cwd=code_root,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"report from {code_root} failed:\n{done.stderr[-3000:]}")
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    n_out = sum(1 for f in Path(out_dir).rglob("*") if f.is_file())
    return wall, c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime, n_out


def _fmt(values):
    return ", ".join(f"{v:.2f}" for v in values)


def fake_inputs(args, root):
    """Report arguments (without --out-dir) of fake runs under ``root`` (made once, reused with --keep)."""
    t0 = time.perf_counter()
    marker = root / f".complete-v2-{args.seeds}-{args.lines}-{args.epochs}-{args.images}-{args.dets_per_image}"
    if marker.exists():
        runs, ann, img_dir = (
            root / "runs" / "synthetic",
            root / "data" / "annotations" / "instances_val.json",
            root / "data" / "val",
        )
    else:
        runs, ann, img_dir = make_fixture(root, args.seeds, args.lines, args.epochs, args.images, args.dets_per_image)
        marker.touch()
    size = sum(f.stat().st_size for f in runs.rglob("*") if f.is_file()) / 2**20
    print(
        f"fixture: {len(ARMS)} arms x {args.seeds} seeds, {args.lines} scalar lines/run, {args.epochs} epochs "
        f"x {args.images} images x {args.dets_per_image} detections; {size:.0f} MiB; "
        f"written in {time.perf_counter() - t0:.1f} s"
    )
    fixed = ["--family", "synthetic", "--dataset", "synthetic", "--val-ann", str(ann), "--val-images", str(img_dir)]
    return fake_runs.report_args(runs) + fixed


def real_inputs(args):
    """Report arguments (without --out-dir) of the finished runs under ``--runs``."""
    runs = Path(args.runs).absolute()
    report_args = fake_runs.report_args(runs)
    report_args = [a for a in report_args if not a.endswith("epoch_detections") or Path(a).is_dir()]
    fixed = ["--family", args.family, "--dataset", args.dataset]
    if args.val_ann:
        fixed += ["--val-ann", str(Path(args.val_ann).absolute())]
    if args.val_images:
        fixed += ["--val-images", str(Path(args.val_images).absolute())]
    n = sum(1 for _ in runs.glob("*/*/seed*/metrics.json"))
    print(f"runs: {n} finished runs under {runs}")
    return report_args + fixed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lines", type=int, default=1000, help="logged training iterations per run")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--images", type=int, default=100, help="validation images")
    p.add_argument("--dets-per-image", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keep", help="write the fixture here instead of a temporary folder (reused when complete)")
    p.add_argument(
        "--old", default=OLD_COMMIT, help="commit whose analysis/ is the old report (default: before issue 21)"
    )
    p.add_argument("--runs", help="a family's folder of finished runs (results/runs/{family}) instead of fake runs")
    p.add_argument("--family", default="synthetic", help="with --runs: the runs' config family")
    p.add_argument("--dataset", default="synthetic", help="with --runs: the runs' dataset")
    p.add_argument("--val-ann", help="with --runs: COCO annotation file of the validation split")
    p.add_argument("--val-images", help="with --runs: folder of the validation images")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report_args = real_inputs(args) if args.runs else fake_inputs(args, Path(args.keep or tmp / "fixture"))
        old_root = unpack_old(args.old, tmp / "old")
        sides = {"old": (old_root, []), "new": (REPO, [])}
        for k in range(args.repeats):
            for name, (root, results) in sides.items():
                results.append(time_report(root, report_args, tmp / f"report-{name}-{k}" / args.family))
        n_new = sides["new"][1][0][2]
        assert n_new == len(OUTPUTS), f"{n_new} files written, {len(OUTPUTS)} expected"
        best = {name: min(r[0] for r in results) for name, (_, results) in sides.items()}
        print(f"{'report':<6} {'files':>5}  {'wall s (each run)':<28} {'best':>6}  CPU s (each run)")
        for name, (_, results) in sides.items():
            label = f"{args.old[:10]}" if name == "old" else "this tree"
            walls, cpus = [r[0] for r in results], [r[1] for r in results]
            print(f"{name:<6} {results[0][2]:>5}  {_fmt(walls):<28} {best[name]:>6.2f}  {_fmt(cpus)}   ({label})")
        print(
            f"new / old (best wall): {best['new'] / best['old']:.2f} (aim <= 1.2); project target <= 10 s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
