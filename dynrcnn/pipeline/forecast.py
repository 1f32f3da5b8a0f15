"""What a pipeline config will cost before it runs: GPU-hours per run, per arm and for the whole plan.

Usage (``make forecast CONFIG=... SPI=...``)::

    python -m dynrcnn.pipeline.forecast CONFIG.yaml [...] (--spi S | --measured RUN_DIR ...) [--train-images N]
        [--benchmarks results/benchmarks]

Every run of the config's plan (:mod:`dynrcnn.pipeline.plan`: arms x seeds, sweep variants, controls) trains
``iterations = epochs x ceil(train images / (processes x images per GPU))`` (an iteration-based family: its
``max_iters``), read from the arm's MMDetection config and the pipeline config as the training will. A run's wall
time is ``iterations x S`` (S: seconds per iteration of one training, all its GPUs together, after warm-up), its
GPU-hours ``wall x gpus_per_job``. S is given (``--spi``, e.g. the acceptance check's or MMDetection's 0.216 s on 8
V100, reported in its model zoo) or measured: the median of mmengine's per-iteration ``time`` over the training
lines of the given runs' ``scalars.json`` after the first 10 % (warm-up). When the plan's train jobs have benchmark
files (``results/benchmarks/train/...``), their measured wall time is printed next to the forecast.

The number of training images: the synthetic config's ``dataset.synthetic.num_train``; COCO: ``--train-images``,
by default 117266 (train2017 images with annotations, those MMDetection trains on; derived: the author's 7330
iterations per epoch at 8 x 2 images [v] give 117265-117280, status derived). Reads configs only: imports neither
torch nor mmdet, and needs no dataset.
"""

import argparse
import math
import os
import statistics
import sys
import warnings
from collections import defaultdict

from dynrcnn import families, run_record

from .config import PipelineConfigError, load
from .plan import build

PROG = "python -m dynrcnn.pipeline.forecast"
#: COCO train2017 images with annotations (see the module docstring for its status: derived).
COCO_TRAIN_IMAGES = 117266
#: The share of a run's training lines counted as warm-up when measuring seconds per iteration.
WARMUP_FRACTION = 0.1


def _arm_config(path):
    from mmengine.config import Config  # imports neither torch nor mmdet (mmdet:: bases are read as files)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        return Config.fromfile(path, import_custom_modules=False)


def iterations(plan, arm, train_images=None):
    """Training iterations of one run of ``arm`` under ``plan``'s config.

    Returns:
        tuple[int, str]: the iterations and how they were counted.
    """
    cfg = _arm_config(plan.arm_configs[arm])
    train_cfg = cfg.get("train_cfg", {})
    if train_cfg.get("max_iters"):
        return int(train_cfg["max_iters"]), "max_iters"
    epochs = plan.config["train"]["max_epochs"] or int(train_cfg["max_epochs"])
    per_gpu = plan.config["images_per_gpu"] or int(cfg.train_dataloader.batch_size)
    batch = plan.train_processes * per_gpu
    if train_images is None:
        if plan.dataset == "synthetic":
            train_images = plan.config["dataset"]["synthetic"]["num_train"]
        else:
            train_images = COCO_TRAIN_IMAGES
    per_epoch = math.ceil(train_images / batch)
    return epochs * per_epoch, f"{epochs} epochs x {per_epoch} (ceil({train_images} images / {batch}))"


def measured_spi(run_dirs):
    """Median seconds per iteration (mmengine's ``time``) over the runs' training lines after warm-up."""
    times = []
    for folder in run_dirs:
        train, _ = run_record.read_scalars(os.path.join(folder, run_record.SCALARS_FILE))
        lines = [line for line in train if isinstance(line.get("time"), (int, float))]
        times += [line["time"] for line in lines[int(len(lines) * WARMUP_FRACTION) :]]
    if not times:
        raise PipelineConfigError(f"no per-iteration 'time' in the scalars.json of {', '.join(map(str, run_dirs))}")
    return statistics.median(times)


def measured_wall(path):
    """Wall seconds of a Snakemake benchmark file (its first column, summed over lines), or None when absent."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()[1:]
    return sum(float(line.split("\t")[0]) for line in lines if line.strip()) or None


def manifest_wall(folder):
    """Wall seconds the training recorded in its ``train_manifest.json`` (all attempts), or None when absent."""
    path = os.path.join(folder, run_record.MANIFEST_FILE)
    if not os.path.isfile(path):
        return None
    try:
        return run_record.read_manifest(folder).get("wall_time_s")
    except (OSError, ValueError):  # RunRecordError is a ValueError
        return None


def forecast(plan, spi, train_images=None):
    """Rows per run: ``arm, variant, seed, iterations, counted, gpus, wall_h, gpu_h, measured_wall_h``."""
    gpus = plan.config["gpus_per_job"]
    per_arm = {arm: iterations(plan, arm, train_images) for arm in plan.arm_configs}
    rows = []
    for run in plan.runs:
        iters, counted = per_arm[run.arm]
        wall_h = iters * spi / 3600
        bench = f"results/benchmarks/train/{plan.family}/{run.arm}/{run.variant}/seed{run.seed}.tsv"
        # the train job's benchmark file; a run made before those existed: its manifest's own wall time
        measured = measured_wall(bench) or manifest_wall(plan.run_dir(run))
        rows.append(
            dict(
                arm=run.arm,
                variant=run.variant,
                seed=run.seed,
                iterations=iters,
                counted=counted,
                gpus=gpus,
                wall_h=wall_h,
                gpu_h=wall_h * gpus,
                measured_wall_h=None if measured is None else measured / 3600,
            )
        )
    return rows


def render(plan, rows, spi, spi_from) -> str:
    """The forecast as text: per run, per arm, in total."""
    gpus = plan.config["gpus_per_job"]
    out = [
        f"Forecast of {plan.family} ({len(rows)} trainings, {gpus or 'no'} GPU{'s' * (gpus != 1)} each, "
        f"{spi:.4g} s/iteration {spi_from}):",
        "",
        "| run | iterations | wall h (forecast) | GPU-hours | wall h (measured) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        measured = "n/a" if r["measured_wall_h"] is None else f"{r['measured_wall_h']:.3f}"
        name = run_record.run_name(r["arm"], r["variant"], r["seed"])
        out.append(f"| {name} | {r['iterations']} | {r['wall_h']:.3f} | {r['gpu_h']:.1f} | {measured} |")
    by_arm = defaultdict(list)
    for r in rows:
        by_arm[r["arm"]].append(r)
    out += ["", "| arm | trainings | GPU-hours | wall h (forecast) | wall h (measured) |", "|---|---:|---:|---:|---:|"]
    for arm, group in list(by_arm.items()) + [("**total**", rows)]:
        known = [r["measured_wall_h"] for r in group if r["measured_wall_h"] is not None]
        measured = f"{sum(known):.3f} ({len(known)} of {len(group)})" if known else "n/a"
        out.append(
            f"| {arm} | {len(group)} | {sum(r['gpu_h'] for r in group):.1f} | "
            f"{sum(r['wall_h'] for r in group):.3f} | {measured} |"
        )
    arms_by_count = defaultdict(list)
    for r in rows:
        if r["arm"] not in arms_by_count[r["counted"]]:
            arms_by_count[r["counted"]].append(r["arm"])
    counted = [f"{', '.join(arms)}: {how}" for how, arms in arms_by_count.items()]
    out += ["", "Iterations per run: " + "; ".join(counted) + "."]
    out.append(
        "Training only (evaluations not included); GPU-hours = iterations x s/iteration x GPUs. The measured column "
        "is the train jobs' Snakemake benchmark files (a resumed training: its last attempt), else the wall time the "
        "training recorded in its train_manifest.json."
    )
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="GPU-hours of a pipeline config before it runs.")
    parser.add_argument("configs", nargs="+", help="pipeline config files (merged as snakemake --configfile does)")
    speed = parser.add_mutually_exclusive_group(required=True)
    speed.add_argument("--spi", type=float, help="seconds per iteration of one training (all its GPUs)")
    speed.add_argument("--measured", nargs="+", help="run folders whose scalars.json give the s/iteration")
    parser.add_argument("--train-images", type=int, help=f"training images (COCO default {COCO_TRAIN_IMAGES})")
    args = parser.parse_args(argv)
    try:
        plan = build(load(*args.configs), check_data=False)
        if args.spi is not None:
            if args.spi <= 0:
                parser.error("--spi must be > 0 (seconds per iteration)")
            spi, spi_from = args.spi, "(given)"
        else:
            spi, spi_from = measured_spi(args.measured), f"(median over {len(args.measured)} measured runs)"
        rows = forecast(plan, spi, args.train_images)
    except (PipelineConfigError, run_record.RunRecordError) as e:
        sys.exit(f"{PROG}: error: {e}")
    for notice in plan.notices:
        print(notice, file=sys.stderr)
    if families.family(plan.family).dataset != plan.dataset:
        print(f"note: family {plan.family} is made for {families.family(plan.family).dataset}", file=sys.stderr)
    print(render(plan, rows, spi, spi_from), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
