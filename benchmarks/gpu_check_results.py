"""The figures of the GPU check (benchmarks/gpu_check.sh), read from what its steps left in the work folder.

    python benchmarks/gpu_check_results.py train RUN_DIR     # iterations per second, AP50 of the training
    python benchmarks/gpu_check_results.py first-error LOG   # the first compiler error of the mmcv build log
    python benchmarks/gpu_check_results.py final --out results.json --work WORK --status NAME=RESULT ...

``final`` prints the closing block of the summary (the machine, the mmcv build, the RoI head's ratios with their
intervals and host reads, the training's speed and AP50, each step's result) and writes it as JSON. Only the
standard library: it runs even when the stack does not import.
"""

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

RATIO = re.compile(
    r"^(?P<what>training step|roi_head\.loss)\s+ratio Ablation/(?P<ref>\w+?)\s*= (?P<medians>[\d.]+) \(medians\), "
    r"(?P<paired>[\d.]+) \(median of paired ratios, 95% bootstrap interval \[(?P<lo>[\d.]+), (?P<hi>[\d.]+)\]\); "
    r"target <= (?P<target>[\d.]+): (?P<verdict>.+)$"
)
MEDIAN = re.compile(r"^(?P<what>training step|roi_head\.loss)\s+(?P<head>\w+RoIHead)\s+median\s+(?P<ms>[\d.]+) ms")
READS = re.compile(
    r"^(?P<head>\w+RoIHead)\s+host reads in roi_head\.loss: non-update iterations \[(?P<non_update>[\d, ]*)\] "
    r"\(extra over Standard \[(?P<extra>[-\d, ]*)\]\), update iteration (?P<update>\d+)"
)


#: A compiler's error line: gcc/clang "file.cpp:12:5: error: ...", nvcc "file.cu(12): error: ...", "fatal error:",
#: MSVC-style "error C2065:"; not "-Werror" or "errors:".
COMPILER_ERROR = re.compile(r"(^|[^A-Za-z_-])(fatal error|error)( [A-Z]+[0-9]+)?: ")


def first_error(log_text: str, before: int = 2, after: int = 4) -> list:
    """The lines around the first compiler error of a build log, and the first ninja ``FAILED:`` line."""
    lines = log_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if COMPILER_ERROR.search(line):
            out.append(f"the compiler's first error (log line {i + 1}):")
            out += [f"  | {x}" for x in lines[max(0, i - before) : i + after + 1]]
            break
    else:
        out.append("no compiler 'error:' line in the log; its last lines:")
        out += [f"  | {x}" for x in lines[-15:]]
    failed = next((x for x in lines if x.lstrip().startswith("FAILED:")), None)
    if failed:
        out.append("first failed build step: " + failed.strip()[:400])
    return out


def _ints(text: str) -> list:
    return [int(x) for x in text.split(",") if x.strip()]


def bench_figures(text: str) -> dict:
    """The ratios, medians and host reads printed by benchmarks/bench_roi_head.py."""
    figures = {"setup": None, "ratios": [], "median_ms": {}, "host_reads": {}}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("device=") and figures["setup"] is None:
            figures["setup"] = line
        if m := RATIO.match(line):
            figures["ratios"].append(
                dict(
                    timed=m["what"],
                    reference=m["ref"] + "RoIHead",
                    ratio_of_medians=float(m["medians"]),
                    paired_median=float(m["paired"]),
                    interval95=[float(m["lo"]), float(m["hi"])],
                    target=float(m["target"]),
                    verdict=m["verdict"],
                )
            )
        elif m := MEDIAN.match(line):
            figures["median_ms"].setdefault(m["what"], {})[m["head"]] = float(m["ms"])
        elif m := READS.match(line):
            figures["host_reads"][m["head"]] = dict(
                non_update=_ints(m["non_update"]), extra_over_standard=_ints(m["extra"]), update=int(m["update"])
            )
    return figures


def train_figures(run_dir: Path) -> dict:
    """Iterations, iterations per second and COCO metrics of the run that dynrcnn.tools.train/evaluate wrote."""
    run_dir = Path(run_dir)
    figures: dict = {"run_dir": str(run_dir)}
    manifest_path = run_dir / "train_manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        figures.update(device=manifest.get("device"), wall_time_s=manifest.get("wall_time_s"))
    scalars = run_dir / "scalars.json"
    if scalars.is_file():
        rows = [json.loads(line) for line in scalars.read_text().splitlines() if line.strip()]
        train = [r for r in rows if "loss" in r and "time" in r]
        if train:
            iters = max(int(r.get("iter", r.get("step", 0))) for r in train)
            times = [float(r["time"]) for r in train]
            data_times = [float(r.get("data_time", 0.0)) for r in train]
            figures.update(
                iterations=iters,
                seconds_per_iter_median=statistics.median(times),
                iters_per_s_logged=1.0 / statistics.median(times),
                data_time_median=statistics.median(data_times),
            )
            if figures.get("wall_time_s"):
                figures["iters_per_s_overall"] = iters / figures["wall_time_s"]
        dyn = [r for r in rows if "dynrcnn/iou_thr" in r]
        if dyn:
            figures["iou_thr"] = [dyn[0]["dynrcnn/iou_thr"], dyn[-1]["dynrcnn/iou_thr"]]
            figures["beta"] = [dyn[0]["dynrcnn/beta"], dyn[-1]["dynrcnn/beta"]]
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text())["metrics"]
        figures.update(AP50=metrics.get("AP50"), AP=metrics.get("AP"))
    return figures


def train_lines(f: dict) -> list:
    lines = []
    if "iterations" in f:
        overall = f" ({f['iters_per_s_overall']:.2f} it/s over the whole training" if "iters_per_s_overall" in f else ""
        overall += f", {f['wall_time_s']:.0f} s)" if overall else ""
        lines.append(
            f"training on {f.get('device')}: {f['iterations']} iterations (last logged), "
            f"{f['iters_per_s_logged']:.2f} it/s "
            f"(median logged {f['seconds_per_iter_median'] * 1e3:.1f} ms per iteration, data loading "
            f"{f['data_time_median'] * 1e3:.1f} ms){overall}"
        )
    if "iou_thr" in f:
        lines.append(
            f"Dynamic R-CNN: IoU threshold {f['iou_thr'][0]:.3f} -> {f['iou_thr'][1]:.3f}, "
            f"SmoothL1 beta {f['beta'][0]:.3f} -> {f['beta'][1]:.3f}"
        )
    if f.get("AP50") is not None:
        lines.append(f"evaluation: AP50 {f['AP50'] * 100:.1f}, AP {f['AP'] * 100:.1f} (COCOeval, synthetic val split)")
    return lines


def bench_lines(b: dict) -> list:
    lines = [f"RoI head benchmark: {b['setup']}"] if b["setup"] else []
    for r in b["ratios"]:
        lines.append(
            f"  {r['timed']:13s} Ablation/{r['reference'][:-7]:8s} {r['paired_median']:.4f} "
            f"[{r['interval95'][0]:.4f}, {r['interval95'][1]:.4f}] target <= {r['target']:.2f}: {r['verdict']}"
        )
    for head, reads in b["host_reads"].items():
        lines.append(
            f"  host reads {head:16s} non-update {reads['non_update']} (extra over Standard "
            f"{reads['extra_over_standard']}), update iteration {reads['update']}"
        )
    return lines


def final(args) -> int:
    work = Path(args.work)
    results: dict = {"steps": dict(s.split("=", 1) for s in args.status), "total_seconds": args.total_seconds}
    build = work / "mmcv-build-status"
    if build.is_file():
        fields = build.read_text().split()
        results["mmcv_build"] = dict(result=fields[0], seconds=int(fields[1]) if len(fields) > 1 else None)
        if len(fields) > 3:
            results["mmcv_build"].update(max_jobs=fields[2], arch=fields[3])
    bench_log = work / "bench_roi_head.log"
    if bench_log.is_file():
        results["bench"] = bench_figures(bench_log.read_text())
    run_dir = work / "train" / "run"
    if run_dir.is_dir():
        results["train"] = train_figures(run_dir)
    print("==== gpu_check results ====")
    build_info = results.get("mmcv_build")
    if build_info:
        detail = f", MAX_JOBS={build_info['max_jobs']}, arch {build_info['arch']}" if "arch" in build_info else ""
        seconds = f" in {build_info['seconds']} s" if build_info.get("seconds") is not None else ""
        result = {
            "reused": f"reused the wheel an earlier run built{seconds}{detail}",
            "given": "installed the wheel given with --mmcv-wheel (not built here)",
        }.get(build_info["result"], f"{build_info['result']}{seconds}{detail}")
        print(f"mmcv 2.1.0 CUDA build: {result}")
    for line in bench_lines(results.get("bench", {"setup": None, "ratios": [], "host_reads": {}})):
        print(line)
    for line in train_lines(results.get("train", {})):
        print(line)
    print("steps: " + ", ".join(f"{k} {v}" for k, v in results["steps"].items()))
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="print the training's figures")
    p.add_argument("run_dir")
    p = sub.add_parser("first-error", help="print the first compiler error of a build log")
    p.add_argument("log")
    p = sub.add_parser("final", help="print the closing block and write results.json")
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--total-seconds", type=int, default=None)
    p.add_argument("--status", action="append", default=[], metavar="NAME=RESULT")
    args = parser.parse_args(argv)
    if args.command == "first-error":
        text = Path(args.log).read_text(errors="replace") if Path(args.log).is_file() else ""
        for line in first_error(text):
            print("  " + line)
        return 0
    if args.command == "train":
        figures = train_figures(Path(args.run_dir))
        lines = train_lines(figures)
        for line in lines:
            print(line)
        if figures.get("AP50") is None:
            print(f"no metrics.json in {args.run_dir}", file=sys.stderr)
            return 1
        return 0
    return final(args)


if __name__ == "__main__":
    sys.exit(main())
