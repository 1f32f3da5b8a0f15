"""Time the full report (every table and figure) on fake finished runs of realistic size.

Default: 4 arms x 3 seeds, ~1000 logged training iterations per run, 12 epochs with a detection
file each (100 validation images x 100 detections), plus final.bbox.json; the fake runs come from
tests/analysis/fake_runs.py. The report is given every run's files, as the workflow gives them. The
target of the project is <= 10 s for regenerating everything. Prints seconds; asserts nothing.

    .venv/bin/python benchmarks/bench_report.py [--repeats 3] [--keep DIR]
"""

import argparse
import os
import resource
import subprocess
import sys
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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lines", type=int, default=1000, help="logged training iterations per run")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--images", type=int, default=100, help="validation images")
    p.add_argument("--dets-per-image", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--keep", help="write the fixture here instead of a temporary folder (reused when complete)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        t0 = time.perf_counter()
        marker = root / f".complete-v2-{args.seeds}-{args.lines}-{args.epochs}-{args.images}-{args.dets_per_image}"
        if marker.exists():
            runs, ann, img_dir = (
                root / "runs" / "synthetic",
                root / "data" / "annotations" / "instances_val.json",
                root / "data" / "val",
            )
        else:
            runs, ann, img_dir = make_fixture(
                root, args.seeds, args.lines, args.epochs, args.images, args.dets_per_image
            )
            marker.touch()
        size = sum(f.stat().st_size for f in runs.rglob("*") if f.is_file()) / 2**20
        print(
            f"fixture: {len(ARMS)} arms x {args.seeds} seeds, {args.lines} scalar lines/run, {args.epochs} epochs "
            f"x {args.images} images x {args.dets_per_image} detections; {size:.0f} MiB; "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        cmd = [
            sys.executable,
            "-m",
            "analysis.report",
            *fake_runs.report_args(runs),
            "--out-dir",
            str(root / "reports" / "synthetic"),
            "--family",
            "synthetic",
            "--dataset",
            "synthetic",
            "--val-ann",
            str(ann),
            "--val-images",
            str(img_dir),
        ]
        times, cpu = [], []
        for _ in range(args.repeats):
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        n_out = sum(1 for f in (root / "reports" / "synthetic").rglob("*") if f.is_file())
        assert n_out == len(OUTPUTS), f"{n_out} files written, {len(OUTPUTS)} expected"
        print(
            f"report CLI (new process, {n_out} files): wall "
            + ", ".join(f"{t:.2f}" for t in times)
            + f" s, best {min(times):.2f} s (target <= 10 s); CPU "
            + ", ".join(f"{c:.2f}" for c in cpu)
            + f" s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
