"""Train one run of the ablation suite with mmengine's Runner (MMDetection's ``tools/train.py``, plus the run
folder); resume automatically after a kill.

Usage (what the Snakemake ``train`` rule runs)::

    python -m dynrcnn.tools.train CONFIG --work-dir W --run-dir R --seed S --data-root D \
        [--dataset synthetic|coco] [--threads N] [--cfg-options k=v ...] [--cfg-options-file F] [--launcher pytorch] \
        [--tracking tensorboard,wandb [--wandb-project P] [--wandb-entity E] [--wandb-tag T] [--wandb-mode M]]

Arguments -> config -> runner -> train, as in MMDetection's tool:

* A missing config file, or a ``--data-root`` without the ``--dataset`` layout's annotation files and image folders,
  is one command-line error (exit status 2) before anything is written.
* Every dataloader's ``data_root``/``ann_file``/``data_prefix`` and every evaluator's ``ann_file`` are set from
  ``--data-root`` explicitly (overriding ``data_root`` in a derived config does not reach the base config's
  dataloaders).
* Checkpoints and logs live in ``--work-dir``, which is *not* a Snakemake output: Snakemake deletes declared
  outputs before re-running a job, and the checkpoints must survive to be resumed from. When the work dir holds a
  checkpoint of the same resolved config, training resumes from it; checkpoints of another config are moved aside
  (:func:`dynrcnn.run_folder.prepare_work_dir`). :class:`dynrcnn.engine.hooks.RunWallTimeHook` adds up the wall
  time of all attempts.
* ``--tracking tensorboard,wandb`` (the pipeline's ``tracking`` key) adds mmengine's TensorBoard / W&B backends
  after the resume decision, so tracking never changes the resolved config (:mod:`dynrcnn.tracking`).
* At the end, rank 0 hands the finished training to ``--run-dir`` (:func:`dynrcnn.run_folder.finalize`):
  ``scalars.json``, ``config.py`` and, last, ``train_manifest.json``. Training writes no detections: the evaluate
  and detect_epochs tools make them from the saved checkpoints.
"""

import argparse
import os
import os.path as osp

from dynrcnn import run_folder, tracking
from dynrcnn.run_record import DATASET_LAYOUTS, RunRecordError, read_cfg_options_file
from dynrcnn.tools import orphan_guard

#: Which split each dataloader reads (the test loader evaluates on val: COCO test-dev has no public labels).
LOADER_SPLITS = dict(train_dataloader="train", val_dataloader="val", test_dataloader="val")
EVALUATOR_SPLITS = dict(val_evaluator="val", test_evaluator="val")


def parse_args(argv=None):
    from mmengine.config import DictAction

    parser = argparse.ArgumentParser(
        prog="python -m dynrcnn.tools.train", description="Train one Dynamic R-CNN ablation run (resumable)."
    )
    parser.add_argument("config", help="MMDetection config file, e.g. configs/synthetic/dla.py")
    parser.add_argument("--work-dir", required=True, help="checkpoints and logs (kept between attempts)")
    parser.add_argument("--run-dir", help="results folder of the run; the finished files are copied there")
    parser.add_argument("--seed", type=int, required=True, help="random seed of the run")
    parser.add_argument("--data-root", required=True, help="dataset root (see --dataset for its layout)")
    parser.add_argument(
        "--dataset", choices=sorted(DATASET_LAYOUTS), default="synthetic", help="layout below --data-root"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument("--deterministic", action="store_true", help="torch deterministic algorithms")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        default=None,
        help="override config keys, e.g. model.train_cfg.rcnn.dynamic_rcnn.iou_topk=50",
    )
    parser.add_argument(
        "--cfg-options-file",
        help="JSON file whose cfg_options object ({key: value}) is applied after --cfg-options and recorded with "
        "them, e.g. a static-endpoint control's endpoint.json",
    )
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0, help=argparse.SUPPRESS)
    tracking.add_arguments(parser)  # --tracking tensorboard,wandb --wandb-*: outside the resolved config
    args = parser.parse_args(argv)
    problem = input_problem(args)
    if problem:
        parser.error(problem)  # one line on stderr, exit status 2, before anything is read or written
    if args.cfg_options_file:
        try:
            args.cfg_options = {**(args.cfg_options or {}), **read_cfg_options_file(args.cfg_options_file)}
        except RunRecordError as e:
            parser.error(f"--cfg-options-file: {e}")
    return args


def missing_data(data_root: str, dataset: str) -> list[str]:
    """The annotation files and image folders of the ``dataset`` layout that ``data_root`` lacks."""
    missing = []
    for split in dict.fromkeys(LOADER_SPLITS.values()):
        ann, img = DATASET_LAYOUTS[dataset][split]
        if not osp.isfile(osp.join(data_root, ann)):
            missing.append(ann)
        if not osp.isdir(osp.join(data_root, img)):
            missing.append(img)
    return missing


def input_problem(args) -> str | None:
    """What is wrong with the config path or the dataset root (None when both are usable)."""
    if not osp.isfile(args.config):
        return (
            f"config file {args.config!r} does not exist (or is not a file); "
            "give the path of an MMDetection config, e.g. configs/synthetic/dla.py"
        )
    missing = missing_data(args.data_root, args.dataset)
    if missing:
        what = "is not a folder" if not osp.isdir(args.data_root) else f"lacks {', '.join(missing)}"
        layout = DATASET_LAYOUTS[args.dataset]
        expected = ", ".join(p for split in ("train", "val") for p in layout[split])
        hint = (
            f"generate it with python -m dynrcnn.data.synthetic --out {args.data_root}"
            if args.dataset == "synthetic"
            else "point --data-root at the COCO 2017 root"
        )
        return (
            f"--data-root {args.data_root!r} {what}: the {args.dataset} layout (--dataset {args.dataset}) "
            f"needs {expected} below it; {hint}, or pass the right --data-root / --dataset"
        )
    return None


def _innermost_dataset(dataset_cfg, loader_name):
    """Follow dataset wrappers (RepeatDataset, ClassBalancedDataset) down to the dataset that reads files."""
    while "dataset" in dataset_cfg:
        dataset_cfg = dataset_cfg["dataset"]
    if "datasets" in dataset_cfg:
        raise ValueError(
            f"{loader_name}.dataset is a ConcatDataset: --data-root cannot say which of its datasets "
            "to point at; use a single dataset in the config"
        )
    return dataset_cfg


def set_data_paths(cfg, data_root: str, dataset: str = "synthetic") -> None:
    """Point every dataloader and COCO evaluator of ``cfg`` at ``data_root`` (in place).

    Args:
        cfg (mmengine.Config): The config to change.
        data_root (str): Dataset root.
        dataset (str): Layout name, a key of :data:`DATASET_LAYOUTS`.
    """
    if dataset not in DATASET_LAYOUTS:
        raise ValueError(f"unknown dataset layout {dataset!r}; choose one of {sorted(DATASET_LAYOUTS)}")
    layout = DATASET_LAYOUTS[dataset]
    root = data_root.rstrip("/") + "/"
    for loader_name, split in LOADER_SPLITS.items():
        loader = cfg.get(loader_name)
        if not loader:
            continue
        ds = _innermost_dataset(loader["dataset"], loader_name)
        ann, img = layout[split]
        ds["data_root"] = root
        ds["ann_file"] = ann
        ds["data_prefix"] = dict(img=img)
    for evaluator_name, split in EVALUATOR_SPLITS.items():
        evaluator = cfg.get(evaluator_name)
        if not evaluator:
            continue
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if "ann_file" in metric or "Coco" in str(metric.get("type", "")):
                metric["ann_file"] = osp.join(root, layout[split][0])


def build_config(args):
    """Load the config and apply everything this tool controls (paths, seed, launcher; not the resume choice)."""
    from mmengine.config import Config

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    set_data_paths(cfg, args.data_root, args.dataset)
    cfg.work_dir = args.work_dir
    cfg.launcher = args.launcher
    cfg.randomness = dict(seed=args.seed, deterministic=args.deterministic)
    import torch

    if args.launcher != "none" and not torch.cuda.is_available():
        cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"  # nccl needs GPUs
        # DDP of a CPU module takes no device ids (mmengine's default passes [LOCAL_RANK])
        wrapper = cfg.get("model_wrapper_cfg") or dict(type="MMDistributedDataParallel", broadcast_buffers=False)
        wrapper["device_ids"] = None
        cfg.model_wrapper_cfg = wrapper
    return cfg


def init_cpu_process_group(launcher: str) -> bool:
    """Join the ``torchrun`` processes in a gloo process group when CUDA is unavailable.

    mmengine's ``init_dist`` for the ``pytorch`` launcher calls ``torch.cuda.set_device`` first, which fails without
    CUDA; with the group already initialized here the Runner skips ``init_dist`` and trains with CPU DDP. On a GPU
    node (CUDA available) nothing is done and mmengine initializes NCCL (or the config's backend) as usual.

    Args:
        launcher (str): The ``--launcher`` value; only ``pytorch`` (torchrun's environment) is handled.

    Returns:
        bool: Whether this call initialized the process group.
    """
    import torch
    import torch.distributed as torch_dist

    if launcher != "pytorch" or torch.cuda.is_available() or torch_dist.is_initialized():
        return False
    torch_dist.init_process_group(backend="gloo")  # env:// from torchrun: RANK, WORLD_SIZE, MASTER_ADDR/PORT
    return True


def main(argv=None) -> None:
    args = parse_args(argv)
    orphan_guard.install()  # the job ends with the pipeline that started it
    if args.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # must precede CUDA init
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner

    import dynrcnn.compat  # noqa: F401  makes mmengine checkpoints loadable under torch >= 2.6 (resume)
    import dynrcnn.engine  # noqa: F401  registers RunWallTimeHook (the configs import it too)
    from dynrcnn.config_text import memoise_config_formatting

    memoise_config_formatting()  # the same config text is formatted once, not at each of its ~6 uses
    cfg = build_config(args)
    init_cpu_process_group(args.launcher)
    # Resume from the newest checkpoint of an earlier attempt; otherwise keep the config's own load_from.
    cfg.resume = run_folder.prepare_work_dir(args.work_dir, cfg.pretty_text, log=_log)
    if cfg.resume:
        cfg.load_from = None
    # after the resume decision: tracking is not part of the experiment (dynrcnn.tracking)
    tracking.setup(cfg, args, resuming=cfg.resume, log=_log)

    runner = Runner.from_cfg(cfg)
    runner.register_hook(dict(type="RunWallTimeHook"))
    if args.threads:
        torch.set_num_threads(args.threads)  # the runner's environment setup may have changed it
    runner.train()

    if args.run_dir and is_main_process():
        manifest = run_folder.finalize(
            args.run_dir,
            args.work_dir,
            cfg,
            world_size=runner.world_size,
            max_epochs=runner.max_epochs,
            config=args.config,
            seed=args.seed,
            dataset=args.dataset,
            data_root=args.data_root,
            cfg_options=args.cfg_options,
        )
        _log(f"finished in {manifest['wall_time_s']:.1f} s; checkpoint {manifest['checkpoint']}")


def _log(message: str) -> None:
    print(f"[dynrcnn.tools.train] {message}", flush=True)


if __name__ == "__main__":
    main()
