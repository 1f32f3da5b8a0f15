"""What the runs cost: the compute table from Snakemake's ``benchmark:`` files (standard library only).

The train, evaluate and epoch_detections rules each write one benchmark file per job,
``results/benchmarks/{rule}/{family}/{arm}/{variant}/seed{seed}.tsv`` (Snakemake's format: a header line, then one
line per measurement with ``s`` (wall seconds), ``max_rss`` (MB), ``cpu_time`` (CPU seconds, user + system, of the
job's processes) among others; ``NA`` where Snakemake could not sample the job). This module reads them and adds up,
per arm and in total:

* wall hours and CPU-hours (``cpu_time``);
* GPU-hours: wall time x the job's GPUs (a training ``gpus_per_job``, an evaluation at most one), the GPU count
  taken from the run's ``metrics.json`` provenance (``gpus``);
* the peak resident memory of a job (``max_rss``) and the peak GPU memory of the training (the largest ``memory``,
  MB, that mmengine logs in ``scalars.json`` on a GPU; rank 0's);
* the device (the GPU name, else the CPU model) from ``metrics.json``'s provenance.

A training killed and resumed is benchmarked by its last attempt only (Snakemake writes the file of the job that
finished); ``metrics.json``'s ``wall_time_s`` adds up all attempts. With tracking on, W&B records the system metrics
(GPU and CPU utilisation, memory) by itself: nothing more is needed for those.

:func:`compute_rows` returns the rows, :func:`compute_markdown` renders them; ``python -m analysis.compute
--benchmarks results/benchmarks/... --runs results/runs/{family}`` prints the table.
"""

import argparse
import csv
import json
import math
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

#: The rules whose jobs are benchmarked, in the order of the pipeline.
RULES = ("train", "evaluate", "epoch_detections")
BENCHMARK_ROOT = "results/benchmarks"
_PATH_RE = re.compile(
    r"(?:^|/)(?P<rule>" + "|".join(RULES) + r")/(?P<family>[^/]+)/(?P<arm>[^/]+)/(?P<variant>[^/]+)/"
    r"seed(?P<seed>[0-9]+)\.tsv$"
)
TOTAL = "total"
COLUMNS = ("arm", "jobs", "wall_h", "cpu_h", "gpu_h", "peak_rss_mb", "peak_gpu_mem_mb", "device")


class ComputeError(ValueError):
    """A benchmark file is malformed or misplaced; the message names it and the fix."""


@dataclass(frozen=True)
class Benchmark:
    """One job's benchmark file."""

    rule: str
    family: str
    arm: str
    variant: str
    seed: int
    wall_s: float
    cpu_s: float  # NaN when Snakemake could not sample the job
    max_rss_mb: float  # NaN likewise
    path: str


def benchmark_path(rule, family, arm, variant, seed, root=BENCHMARK_ROOT):
    """Where a job's benchmark file goes (the rules' ``benchmark:``)."""
    return f"{root}/{rule}/{family}/{arm}/{variant}/seed{seed}.tsv"


def _value(row, key, path):
    text = row.get(key)
    if text is None:
        raise ComputeError(f"{path}: no column {key!r}; it is not a Snakemake benchmark file (delete it and rerun)")
    if text.strip() in ("NA", "-", ""):
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ComputeError(f"{path}: {key} is {text!r}, not a number; delete the file and rerun the job") from None


def read_benchmark(path) -> Benchmark:
    """Read one benchmark file; several measurement lines (``repeat``) are added up (``max_rss``: the largest)."""
    path = str(path)
    match = _PATH_RE.search(path.replace(os.sep, "/"))
    if not match:
        raise ComputeError(f"{path}: not at {benchmark_path('{rule}', '{family}', '{arm}', '{variant}', 'N')}")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows:
        raise ComputeError(f"{path}: no measurement line; delete the file and rerun the job")
    wall = sum(_value(r, "s", path) for r in rows)
    cpu = sum(_value(r, "cpu_time", path) for r in rows)
    rss = max(_value(r, "max_rss", path) for r in rows)
    return Benchmark(
        match["rule"], match["family"], match["arm"], match["variant"], int(match["seed"]), wall, cpu, rss, path
    )


def run_info(metrics_file, scalars_file=None) -> dict:
    """A run's GPUs, devices and peak GPU memory from its ``metrics.json`` (and ``scalars.json``).

    Returns:
        dict: ``gpus`` (training), ``device`` (the training's: GPU name or CPU model), ``eval_device``,
        ``peak_gpu_mem_mb`` (NaN without GPU memory lines).
    """
    with open(metrics_file, encoding="utf-8") as f:
        prov = json.load(f)["provenance"]
    gpus = int(prov.get("gpus") or 0)
    device = prov.get("device") if gpus else prov.get("cpu_model") or prov.get("device")
    eval_device = prov.get("eval_device")
    if eval_device in (None, "cpu"):
        eval_device = prov.get("eval_cpu_model") or eval_device
    return dict(gpus=gpus, device=device, eval_device=eval_device, peak_gpu_mem_mb=peak_gpu_memory(scalars_file))


def peak_gpu_memory(scalars_file) -> float:
    """The largest ``memory`` (MB) of a ``scalars.json``'s training lines; NaN without any (CPU training)."""
    peak = math.nan
    if scalars_file and os.path.isfile(scalars_file):
        with open(scalars_file, encoding="utf-8") as f:
            for text in f:
                if text.strip():
                    value = json.loads(text).get("memory")
                    if isinstance(value, (int, float)):
                        peak = value if math.isnan(peak) else max(peak, value)
    return peak


def _max(values):
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else math.nan


def _sum(values):
    """The sum; NaN only when every value is NaN (a job Snakemake could not sample adds nothing it knows)."""
    values = [v for v in values if not math.isnan(v)]
    return sum(values) if values else math.nan


def compute_rows(benchmarks, runs=None):
    """The compute table: one row per arm (every rule's jobs of its runs) and a total.

    Args:
        benchmarks (list[Benchmark]): from :func:`read_benchmark`.
        runs (dict, optional): ``{(arm, variant, seed): run_info(...)}``; a job of a run not in it counts 0 GPUs
            and no device.

    Returns:
        list[dict]: rows with :data:`COLUMNS` (hours, MB; NaN where unknown), the arms in order of appearance,
        then ``arm == "total"``.
    """
    runs = runs or {}
    by_arm = defaultdict(list)
    for b in benchmarks:
        by_arm[b.arm].append(b)

    def row(name, jobs):
        gpu_s, devices, gpu_mem = [], [], []
        for b in jobs:
            info = runs.get((b.arm, b.variant, b.seed), {})
            gpus = info.get("gpus", 0) if b.rule == "train" else min(1, info.get("gpus", 0))
            gpu_s.append(b.wall_s * gpus)
            device = info.get("device") if b.rule == "train" else info.get("eval_device") or info.get("device")
            if device and device not in devices:
                devices.append(device)
            if b.rule == "train":
                gpu_mem.append(info.get("peak_gpu_mem_mb", math.nan))
        return dict(
            arm=name,
            jobs=len(jobs),
            wall_h=sum(b.wall_s for b in jobs) / 3600,
            cpu_h=_sum([b.cpu_s for b in jobs]) / 3600,
            gpu_h=sum(gpu_s) / 3600,
            peak_rss_mb=_max([b.max_rss_mb for b in jobs]),
            peak_gpu_mem_mb=_max(gpu_mem),
            device="; ".join(devices),
        )

    rows = [row(arm, jobs) for arm, jobs in by_arm.items()]
    rows.append(row(TOTAL, list(benchmarks)))
    return rows


#: What the compute table's columns are measured from.
NOTE = (
    "Wall and CPU time, peak RSS: Snakemake's `benchmark:` files of the train, evaluate and epoch_detections "
    "jobs (a resumed training: its last attempt). GPU-hours: wall time x the job's GPUs. Peak GPU memory: the "
    "largest `memory` mmengine logged on rank 0 of a training (n/a on CPU)."
)


def fmt(value, digits):
    """``value`` to ``digits`` decimals; ``n/a`` for NaN."""
    return _fmt(value, digits)


def _fmt(value, digits):
    return "n/a" if isinstance(value, float) and math.isnan(value) else f"{value:.{digits}f}"


def compute_markdown(rows) -> str:
    """The compute table as markdown (hours to 3 decimals, memory in MB)."""
    lines = [
        "| arm | jobs | wall h | CPU-hours | GPU-hours | peak RSS (MB) | peak GPU memory (MB) | device |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        name = "**total**" if r["arm"] == TOTAL else r["arm"]
        lines.append(
            f"| {name} | {r['jobs']} | {_fmt(r['wall_h'], 3)} | {_fmt(r['cpu_h'], 3)} | {_fmt(r['gpu_h'], 3)} | "
            f"{_fmt(r['peak_rss_mb'], 0)} | {_fmt(r['peak_gpu_mem_mb'], 0)} | {r['device'] or 'n/a'} |"
        )
    return "\n".join(lines) + "\n\n" + NOTE + "\n"


def load(benchmark_files, run_dirs=()):
    """Read benchmark files and the run folders' info; returns ``(benchmarks, runs)`` for :func:`compute_rows`."""
    benchmarks = [read_benchmark(p) for p in benchmark_files]
    runs = {}
    for folder in run_dirs:
        folder = Path(folder)
        metrics = folder / "metrics.json"
        if not metrics.is_file():
            continue
        with open(metrics, encoding="utf-8") as f:
            run = json.load(f)["run"]
        runs[(run["arm"], run["variant"], int(run["seed"]))] = run_info(metrics, folder / "scalars.json")
    return benchmarks, runs


def find(root, pattern="**/*.tsv"):
    """The benchmark files below ``root``, sorted."""
    return sorted(str(p) for p in Path(root).glob(pattern))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m analysis.compute", description="Print the compute table.")
    parser.add_argument("--benchmarks", required=True, help="folder of benchmark files, e.g. results/benchmarks")
    parser.add_argument("--family", help="only this family's files")
    parser.add_argument("--runs", nargs="*", default=(), help="run folders (GPUs, devices, GPU memory)")
    args = parser.parse_args(argv)
    files = [p for p in find(args.benchmarks) if not args.family or f"/{args.family}/" in p]
    if not files:
        sys.exit(f"python -m analysis.compute: error: no benchmark files below {args.benchmarks}")
    try:
        benchmarks, runs = load(files, args.runs)
    except ComputeError as e:
        sys.exit(f"python -m analysis.compute: error: {e}")
    print(compute_markdown(compute_rows(benchmarks, runs)), end="")


if __name__ == "__main__":
    main()
