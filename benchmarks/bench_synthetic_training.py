"""Speed of the synthetic config family on this machine.

Trains one arm of ``configs/synthetic`` end to end with mmengine's runner
(training, the final validation) and prints

* seconds per training iteration (median and mean of mmengine's per-iteration
  ``time``, which includes data loading),
* the arm's wall time for training plus evaluation,
* the final COCO metrics and the last Dynamic R-CNN IoU threshold / beta,

and optionally (``--profile N``) a torch profiler table of N training
iterations, to see where the time goes (RoIAlign, FC layers, convolutions...).

Examples::

    .venv/bin/python benchmarks/bench_synthetic_training.py --arm dynamic_rcnn
    .venv/bin/python benchmarks/bench_synthetic_training.py --profile 20 --profile-only
    .venv/bin/python benchmarks/bench_synthetic_training.py --data-root data/synthetic \
        --cfg-options train_cfg.max_epochs=1

Without ``--data-root`` the default dataset is generated in a temporary folder.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arm", default="dynamic_rcnn", choices=["baseline", "dla", "dsl", "dynamic_rcnn"])
    p.add_argument("--config", help="a config file instead of configs/synthetic/ARM.py (e.g. a candidate default)")
    p.add_argument("--data-root", help="existing synthetic dataset (default: generate one)")
    p.add_argument("--work-dir", help="default: a temporary folder")
    p.add_argument("--threads", type=int, default=1, help="torch threads (the pipeline uses 1)")
    p.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="profile N training iterations first and print the top operators",
    )
    p.add_argument("--profile-only", action="store_true", help="stop after the profile (no full training)")
    p.add_argument(
        "--cfg-options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="mmengine overrides, e.g. train_cfg.max_epochs=1",
    )
    return p.parse_args()


def profile(runner, iters: int) -> None:
    """Run ``iters`` training steps under torch.profiler and print the top operators."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    model = runner.model
    model.train()
    optim = runner.build_optim_wrapper(runner.optim_wrapper)
    loader = iter(runner.build_dataloader(runner._train_dataloader))
    batches = [next(loader) for _ in range(iters + 2)]
    for batch in batches[:2]:  # warm-up
        model.train_step(batch, optim)
    t0 = time.perf_counter()
    for batch in batches[2:]:
        model.train_step(batch, optim)
    elapsed = time.perf_counter() - t0
    print(f"{iters} iterations (from initialisation, no profiler): {elapsed / iters:.3f} s/iter")
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for batch in batches[2:]:
            model.train_step(batch, optim)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))


def main() -> int:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from mmengine.config import Config, DictAction
    from mmengine.runner import Runner

    from dynrcnn.tools.train import set_data_paths

    tmp = tempfile.TemporaryDirectory(prefix="bench_synth_")
    data_root = args.data_root
    if data_root is None:
        from dynrcnn.data.synthetic import generate

        t0 = time.perf_counter()
        data_root = str(generate(Path(tmp.name) / "data"))
        print(f"generated the default dataset in {time.perf_counter() - t0:.1f} s")
    work_dir = args.work_dir or str(Path(tmp.name) / "work")

    cfg = Config.fromfile(args.config or str(REPO / "configs" / "synthetic" / f"{args.arm}.py"))
    set_data_paths(cfg, data_root, "synthetic")
    if args.cfg_options:
        action = DictAction(option_strings=[], dest="x")
        ns = argparse.Namespace()
        action(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.x)
    cfg.work_dir = work_dir

    # the machine is shared: the load average says how much the figures below are contended
    load_start = os.getloadavg()
    t_start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    if args.profile:
        profile(runner, args.profile)
        if args.profile_only:
            return 0
        # a fresh runner: the profiled steps must not count as training
        runner = Runner.from_cfg(cfg)
        t_start = time.perf_counter()
    runner.train()  # includes the validation at val_interval (the end, by default)
    wall = time.perf_counter() - t_start

    scalars = Path(runner.log_dir) / "vis_data" / "scalars.json"
    rows = [json.loads(line) for line in scalars.read_text().splitlines() if line.strip()]
    times = [r["time"] for r in rows if "time" in r and "loss" in r]
    val = [r for r in rows if "coco/bbox_mAP_50" in r]
    dyn = [r for r in rows if "dynrcnn/iou_thr" in r]
    iters = runner.train_loop.max_iters
    print(
        f"arm {args.arm}: {iters} iterations, torch threads {args.threads}, {os.cpu_count()} CPUs, "
        f"load average (1 min) {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end"
    )
    if times:
        print(
            f"seconds per iteration: median {statistics.median(times):.3f}, "
            f'mean {statistics.mean(times):.3f} (mmengine "time", {len(times)} logged points, '
            f"each averaged over the logger interval)"
        )
    print(f"train + evaluation wall time: {wall:.1f} s ({wall / 60:.2f} min)")
    if val:
        last = val[-1]
        print(
            "final metrics: "
            + ", ".join(f"{k.split('/')[-1]} {v:.3f}" for k, v in last.items() if k.startswith("coco/"))
        )
    if dyn:
        first, last = dyn[0], dyn[-1]
        print(
            f"dynrcnn/iou_thr {first['dynrcnn/iou_thr']:.4f} -> {last['dynrcnn/iou_thr']:.4f}, "
            f"dynrcnn/beta {first['dynrcnn/beta']:.4f} -> {last['dynrcnn/beta']:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
