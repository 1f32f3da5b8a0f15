"""Where one run of the embedded default spends its CPU time, per stage, old default against new side by side.

For each side (a git commit of this repository, or ``worktree`` for the files as they are now) the script takes
that tree's ``configs/pipeline/default.yaml`` and runs, as the workflow does, one arm of it with one seed:

* ``python -m dynrcnn.data.synthetic`` (the dataset, once per pipeline run),
* ``python -m dynrcnn.tools.train`` (one training, one torch thread),
* ``python -m dynrcnn.tools.evaluate`` (final inference + COCOeval),
* ``python -m dynrcnn.tools.detect_epochs`` (when the config asks for per-epoch detections),

each in a child process whose CPU seconds (user + system, from ``wait4``) are its cost. Inside the children a small
shim wraps a few functions with exclusive CPU timers (``time.process_time``; a nested timer's time is not counted
again by the outer one): imports, runner build, data loading, forward/backward/step, the rest of each training
iteration (hooks, logging), validation, test inference, checkpoint writes, COCOeval, the run folder's finalisation.
What no timer covers is interpreter start-up and small glue.

CPU seconds rather than wall seconds: the machine may be shared, and a run's CPU time hardly moves with the load
while its wall time does. The estimate of a pipeline's wall time on an idle machine with C cores running C jobs at
a time is ``data + (runs x (train + evaluate) + detected runs x epoch detections) / C``, where the detected runs
are every run before the 3-seed default and the lowest seed of each arm since (the report comes on top:
``benchmarks/bench_report.py``).

    .venv/bin/python benchmarks/profile_synthetic_default.py --side old=1a976ef --side new=worktree
    .venv/bin/python benchmarks/profile_synthetic_default.py --side new=worktree --arm baseline --seed 1 \
        --json /tmp/profile.json

Prints the tables; asserts nothing.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIM_ENV = "DYNRCNN_PROFILE_OUT"
PYTHON = sys.executable

# ------------------------------------------------------------------------------------------- the child shim
_STACK = []  # [label, started] of the running timers, innermost last
_TOTALS = {}


def _charge(now):
    if _STACK:
        label, started = _STACK[-1]
        _TOTALS[label] = _TOTALS.get(label, 0.0) + now - started


def _timed(label, fn):
    def wrapper(*args, **kwargs):
        now = time.process_time()
        _charge(now)
        _STACK.append([label, now])
        try:
            return fn(*args, **kwargs)
        finally:
            now = time.process_time()
            _charge(now)
            _STACK.pop()
            if _STACK:
                _STACK[-1][1] = now

    wrapper.__wrapped__ = fn
    return wrapper


def _patch(owner, name, label):
    fn = owner.__dict__[name]
    if isinstance(fn, classmethod):
        setattr(owner, name, classmethod(_timed(label, fn.__func__)))
    else:
        setattr(owner, name, _timed(label, fn))


def _imports():
    import mmdet.datasets  # noqa: F401
    import mmdet.evaluation  # noqa: F401
    import mmdet.models  # noqa: F401
    import mmengine.runner  # noqa: F401
    import pycocotools.cocoeval  # noqa: F401
    import torch  # noqa: F401

    import dynrcnn.engine  # noqa: F401
    import dynrcnn.models  # noqa: F401


def run_shim(tool, argv):
    """Run one tool's ``main(argv)`` with the stage timers; write the stage table to ``$DYNRCNN_PROFILE_OUT``."""
    import importlib

    start = time.process_time()
    _timed("imports (torch, mmengine, mmdet, dynrcnn)", _imports)()
    import torch.utils.data.dataloader as tdl
    from mmengine.model import BaseModel
    from mmengine.runner import EpochBasedTrainLoop, Runner, TestLoop, ValLoop

    _patch(Runner, "from_cfg", "build runner (model, datasets, hooks)")
    _patch(Runner, "save_checkpoint", "checkpoint writes")
    _patch(EpochBasedTrainLoop, "run_iter", "train iteration: hooks, logging")
    _patch(BaseModel, "train_step", "train iteration: forward, backward, step")
    _patch(tdl._BaseDataLoaderIter, "__next__", "data loading")
    _patch(ValLoop, "run", "validation during training")
    _patch(TestLoop, "run", "test inference")
    module = importlib.import_module(f"dynrcnn.tools.{tool}")
    if tool == "train":
        from dynrcnn import run_folder

        _patch(run_folder, "finalize", "finalize run folder")
    if tool == "evaluate":
        module.evaluate_detections = _timed("COCOeval", module.evaluate_detections)
    _timed("tool main (other)", module.main)(argv)
    # process_time covers every thread of this process; worker processes (num_workers > 0) show as children
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    table = dict(_TOTALS)
    table["data loader workers (child processes)"] = children.ru_utime + children.ru_stime
    table["_shim_total"] = time.process_time() - start
    Path(os.environ[SHIM_ENV]).write_text(json.dumps(table))


# ------------------------------------------------------------------------------------------- the parent
def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--side",
        action="append",
        metavar="NAME=REF",
        help="a git commit (or 'worktree') whose configs/pipeline/default.yaml is profiled; repeatable "
        "(default: new=worktree)",
    )
    p.add_argument("--arm", default="dynamic_rcnn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cores", type=int, default=2, help="cores of the machine the wall-time estimate is for")
    p.add_argument(
        "--cfg-options", nargs="+", default=[], help="extra mmengine overrides for every side (quick checks)"
    )
    p.add_argument("--work", help="keep the trees and runs here (default: a temporary folder)")
    p.add_argument("--json", help="also write the tables here")
    return p.parse_args()


def checkout(ref, dest):
    """The tree of ``ref`` (a commit of this repository) in ``dest``; ``worktree`` is this repository as it is."""
    if ref == "worktree":
        return REPO
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def child(cmd, tree, log, tool=None):
    """Run ``cmd`` with PYTHONPATH=tree; returns (CPU seconds, wall seconds, stage table or None)."""
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
    stages = None
    with tempfile.NamedTemporaryFile(suffix=".json") as out, open(log, "w") as log_file:
        if tool:
            env[SHIM_ENV] = out.name
            cmd = [PYTHON, __file__, "_shim", tool, "--", *cmd]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            sys.exit(f"{cmd[:6]}... failed ({proc.returncode}); see {log}")
        if tool:
            stages = json.loads(Path(out.name).read_text())
    return usage.ru_utime + usage.ru_stime, wall, stages


def plan_counts(tree):
    """(runs, runs with epoch detections) of the tree's default config, from the tree's own pipeline plan (every run
    had epoch detections before the 3-seed default, the lowest seed of each arm has since)."""
    code = (
        "from dynrcnn.pipeline import build, load\n"
        "plan = build(load('configs/pipeline/default.yaml'))\n"
        "print(len(plan.runs), sum(t.endswith('/epoch_detections') for t in plan.final_targets))\n"
    )
    out = subprocess.run(
        [PYTHON, "-c", code], cwd=tree, env=dict(os.environ, PYTHONPATH=str(tree)), capture_output=True, text=True
    )
    if out.returncode:
        sys.exit(f"cannot plan the default config of {tree}:\n{out.stderr[-2000:]}")
    runs, detected = map(int, out.stdout.split()[-2:])
    return runs, detected


def profile_side(name, ref, args, work):
    import yaml

    # this checkout's command builders (in this process only: the child shim imports the profiled tree's package)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from dynrcnn.tools.commands import arguments, detect_epochs_command, evaluate_command, train_command

    tree = checkout(ref, work / name / "tree")
    pcfg = yaml.safe_load((tree / "configs" / "pipeline" / "default.yaml").read_text())
    syn = pcfg["dataset"]["synthetic"]
    runs, detected = plan_counts(tree)
    out = work / name
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data"
    result = dict(ref=ref, runs=runs, detected_runs=detected, stages={})
    cpu, wall, _ = child(
        [PYTHON, "-m", "dynrcnn.data.synthetic", "--out", str(data)]
        + [f"--{k.replace('_', '-')}={v}" for k, v in syn.items()],
        tree,
        out / "data.log",
    )
    result["data"] = dict(cpu=cpu, wall=wall)
    run_dir, work_dir = out / "run", out / "work"
    options = list(pcfg.get("train", {}).get("cfg_options") or [])
    if pcfg.get("train", {}).get("max_epochs"):
        options.append(f"train_cfg.max_epochs={pcfg['train']['max_epochs']}")
    options += args.cfg_options
    # the pipeline's commands (this checkout's dynrcnn.tools.commands), one torch thread; the shim runs each tool's
    # main with the tool's own arguments
    config = tree / "configs" / "synthetic" / f"{args.arm}.py"
    train = train_command(
        config, work_dir=work_dir, run_dir=run_dir, seed=args.seed, data_root=data, cfg_options=options
    )
    evaluate = evaluate_command(run_dir, family="synthetic", arm=args.arm, variant="default", seed=args.seed)
    steps = [("train", arguments(train)), ("evaluate", arguments(evaluate))]
    ev = pcfg.get("evaluate", {})
    if ev.get("epoch_detections", True):
        detect = detect_epochs_command(
            run_dir, out=run_dir / "epoch_detections", max_images=ev.get("epoch_max_images") or 0
        )
        steps.append(("detect_epochs", arguments(detect)))
    for tool, argv in steps:
        print(f"[{name}] {tool} ...", flush=True)
        cpu, wall, stages = child(argv, tree, out / f"{tool}.log", tool=tool)
        shim_total = stages.pop("_shim_total")
        stages["start-up, unaccounted"] = cpu - shim_total - stages["data loader workers (child processes)"]
        stages["start-up, unaccounted"] += stages.pop("tool main (other)", 0.0)
        result["stages"][tool] = dict(cpu=cpu, wall=wall, breakdown=stages)
    metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    result["metrics"] = {k: metrics[k] for k in ("AP", "AP50", "AP75") if k in metrics}
    return result


def report(results, cores):
    for name, r in results.items():
        per_run = sum(s["cpu"] for s in r["stages"].values())
        detect = r["stages"].get("detect_epochs", {}).get("cpu", 0.0)
        r["per_run_cpu"] = per_run
        r["pipeline_cpu"] = r["runs"] * (per_run - detect) + r["detected_runs"] * detect
        r["estimated_wall"] = r["data"]["cpu"] + r["pipeline_cpu"] / cores
        print(f"\n== {name} ({r['ref']}): {r['runs']} runs; metrics of the profiled run {r['metrics']}")
        print(f"{'stage':<58}{'CPU s':>9}{'share':>8}")
        for tool, s in r["stages"].items():
            print(f"{tool + ' (child process)':<58}{s['cpu']:>9.1f}{s['cpu'] / per_run:>8.1%}   wall {s['wall']:.1f}")
            for label, sec in sorted(s["breakdown"].items(), key=lambda kv: -kv[1]):
                if sec >= 0.05:
                    print(f"  {label:<56}{sec:>9.1f}{sec / per_run:>8.1%}")
        print(f"{'one run (train + evaluate + epoch detections)':<58}{per_run:>9.1f}")
        print(f"{'dataset generation (once)':<58}{r['data']['cpu']:>9.1f}")
        print(
            f"pipeline estimate: {r['data']['cpu']:.0f} + ({r['runs']} x {per_run - detect:.0f} + "
            f"{r['detected_runs']} x {detect:.0f} epoch detections) / {cores} cores = "
            f"{r['estimated_wall']:.0f} s ({r['estimated_wall'] / 60:.1f} min) without the report"
        )
    if len(results) > 1:
        names = list(results)
        base = results[names[0]]
        for name in names[1:]:
            r = results[name]
            print(
                f"\n{name} / {names[0]}: per run {r['per_run_cpu'] / base['per_run_cpu']:.2f}x "
                f"(train + evaluate + epoch detections), "
                f"pipeline {r['estimated_wall'] / base['estimated_wall']:.2f}x"
            )


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "_shim":
        sys.argv = [f"dynrcnn.tools.{sys.argv[2]}", *sys.argv[4:]]
        run_shim(sys.argv[0].rsplit(".", 1)[-1], sys.argv[1:])
        return 0
    args = parse_args()
    # imported here, not at the top: the child shim (above) runs this file too and times its own imports
    sys.path.insert(0, str(REPO))
    from benchmarks.bench_default_pipeline import run_sides

    results = run_sides(
        args.side, args.work, "profile_synth_", lambda name, ref, work: profile_side(name, ref, args, work)
    )
    report(results, args.cores)
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
