"""Train one run of the ablation suite with mmengine's Runner; resume automatically after a kill.

Usage (what the Snakemake ``train`` rule runs)::

    python -m dynrcnn.tools.train CONFIG --work-dir W --run-dir R --seed S --data-root D \
        [--dataset synthetic|coco] [--threads N] [--cfg-options k=v ...] [--launcher pytorch]

* Checkpoints and logs live in ``--work-dir``, which is *not* a Snakemake output: Snakemake deletes declared
  outputs before re-running a job, and the checkpoints must survive to be resumed from. When the work dir holds a
  checkpoint (mmengine's ``last_checkpoint`` file), training resumes from it instead of starting over.
* Every dataloader's ``data_root``/``ann_file``/``data_prefix`` and every evaluator's ``ann_file`` are set from
  ``--data-root`` explicitly (overriding ``data_root`` in a derived config does not reach the base config's
  dataloaders).
* Each validation's detections are kept as ``detections/epoch_{N}.bbox.json``.
* At the end, rank 0 copies into ``--run-dir``: ``scalars.json`` (mmengine's ``vis_data/scalars.json``, the
  segments of a resumed training merged), ``detections/epoch_*.bbox.json`` (those of an earlier training of the run
  dir are removed first), ``config.py`` (the resolved config) and ``train_manifest.json`` (written last and
  atomically: its presence means the training finished).
* A missing config file, or a ``--data-root`` without the ``--dataset`` layout's annotation files and image folders,
  is one command-line error (exit status 2) before anything is written.
"""
import argparse
import glob
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

#: Where annotations and images of each split live below ``--data-root``, per dataset layout.
DATASET_LAYOUTS = {
    'synthetic': dict(train=('annotations/instances_train.json', 'train/'),
                      val=('annotations/instances_val.json', 'val/')),
    'coco': dict(train=('annotations/instances_train2017.json', 'train2017/'),
                 val=('annotations/instances_val2017.json', 'val2017/')),
}
#: Which split each dataloader reads (the test loader evaluates on val: COCO test-dev has no public labels).
LOADER_SPLITS = dict(train_dataloader='train', val_dataloader='val', test_dataloader='val')
EVALUATOR_SPLITS = dict(val_evaluator='val', test_evaluator='val')

MANIFEST = 'train_manifest.json'
WALL_TIME_FILE = 'wall_time.json'
VAL_DUMP_PREFIX = osp.join('.val_dump', 'val')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(prog='python -m dynrcnn.tools.train',
                                     description='Train one Dynamic R-CNN ablation run (resumable).')
    parser.add_argument('config', help='MMDetection config file, e.g. configs/synthetic/dla.py')
    parser.add_argument('--work-dir', required=True, help='checkpoints and logs (kept between attempts)')
    parser.add_argument('--run-dir', help='results folder of the run; the finished files are copied there')
    parser.add_argument('--seed', type=int, required=True, help='random seed of the run')
    parser.add_argument('--data-root', required=True, help='dataset root (see --dataset for its layout)')
    parser.add_argument('--dataset', choices=sorted(DATASET_LAYOUTS), default='synthetic',
                        help='layout below --data-root')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (CPU)')
    parser.add_argument('--deterministic', action='store_true', help='torch deterministic algorithms')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override config keys, e.g. model.train_cfg.rcnn.dynamic_rcnn.iou_topk=50')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    problem = input_problem(args)
    if problem:
        parser.error(problem)  # one line on stderr, exit status 2, before anything is read or written
    return args


def missing_data(data_root: str, dataset: str) -> List[str]:
    """The annotation files and image folders of the ``dataset`` layout that ``data_root`` lacks."""
    missing = []
    for split in dict.fromkeys(LOADER_SPLITS.values()):
        ann, img = DATASET_LAYOUTS[dataset][split]
        if not osp.isfile(osp.join(data_root, ann)):
            missing.append(ann)
        if not osp.isdir(osp.join(data_root, img)):
            missing.append(img)
    return missing


def input_problem(args) -> Optional[str]:
    """What is wrong with the config path or the dataset root (None when both are usable)."""
    if not osp.isfile(args.config):
        return (f'config file {args.config!r} does not exist (or is not a file); '
                'give the path of an MMDetection config, e.g. configs/synthetic/dla.py')
    missing = missing_data(args.data_root, args.dataset)
    if missing:
        what = 'is not a folder' if not osp.isdir(args.data_root) else f'lacks {", ".join(missing)}'
        layout = DATASET_LAYOUTS[args.dataset]
        expected = ', '.join(p for split in ('train', 'val') for p in layout[split])
        hint = (f'generate it with python -m dynrcnn.data.synthetic --out {args.data_root}'
                if args.dataset == 'synthetic' else 'point --data-root at the COCO 2017 root')
        return (f'--data-root {args.data_root!r} {what}: the {args.dataset} layout (--dataset {args.dataset}) '
                f'needs {expected} below it; {hint}, or pass the right --data-root / --dataset')
    return None


def _innermost_dataset(dataset_cfg, loader_name):
    """Follow dataset wrappers (RepeatDataset, ClassBalancedDataset) down to the dataset that reads files."""
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    if 'datasets' in dataset_cfg:
        raise ValueError(f'{loader_name}.dataset is a ConcatDataset: --data-root cannot say which of its datasets '
                         'to point at; use a single dataset in the config')
    return dataset_cfg


def set_data_paths(cfg, data_root: str, dataset: str = 'synthetic') -> None:
    """Point every dataloader and COCO evaluator of ``cfg`` at ``data_root`` (in place).

    Args:
        cfg (mmengine.Config): The config to change.
        data_root (str): Dataset root.
        dataset (str): Layout name, a key of :data:`DATASET_LAYOUTS`.
    """
    if dataset not in DATASET_LAYOUTS:
        raise ValueError(f'unknown dataset layout {dataset!r}; choose one of {sorted(DATASET_LAYOUTS)}')
    layout = DATASET_LAYOUTS[dataset]
    root = data_root.rstrip('/') + '/'
    for loader_name, split in LOADER_SPLITS.items():
        loader = cfg.get(loader_name)
        if not loader:
            continue
        ds = _innermost_dataset(loader['dataset'], loader_name)
        ann, img = layout[split]
        ds['data_root'] = root
        ds['ann_file'] = ann
        ds['data_prefix'] = dict(img=img)
    for evaluator_name, split in EVALUATOR_SPLITS.items():
        evaluator = cfg.get(evaluator_name)
        if not evaluator:
            continue
        for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
            if 'ann_file' in metric or 'Coco' in str(metric.get('type', '')):
                metric['ann_file'] = osp.join(root, layout[split][0])


def effective_lr(cfg, world_size: int) -> float:
    """Learning rate actually used: the config's, scaled like mmengine does when ``auto_scale_lr`` is on."""
    lr = float(cfg.optim_wrapper.optimizer.lr)
    scale = cfg.get('auto_scale_lr')
    if scale and scale.get('enable', False):
        lr *= world_size * int(cfg.train_dataloader.batch_size) / float(scale['base_batch_size'])
    return lr


def merge_scalars(work_dir: str) -> List[dict]:
    """mmengine's ``vis_data/scalars.json`` of every attempt of a training, merged into one history.

    Each (re)start writes a new ``{timestamp}/vis_data/scalars.json``. An attempt that was killed may have logged
    iterations after its last checkpoint; the resumed attempt logs them again, and its lines win.

    Args:
        work_dir (str): Training work directory.

    Returns:
        list[dict]: The scalar lines, in training order.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    merged: List[dict] = []
    for path in files:
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        if not lines:
            continue
        train_steps = [d['step'] for d in lines if _is_train_line(d)]
        val_steps = [d['step'] for d in lines if not _is_train_line(d)]
        first_train = min(train_steps) if train_steps else None
        first_val = min(val_steps) if val_steps else None
        merged = [
            d for d in merged
            if not ((_is_train_line(d) and first_train is not None and d['step'] >= first_train) or
                    (not _is_train_line(d) and first_val is not None and d['step'] >= first_val))
        ]
        merged.extend(lines)
    return merged


def _is_train_line(line: dict) -> bool:
    # Training lines carry the learning rate; validation lines (step = epoch) carry metrics only.
    return 'lr' in line or any(k.startswith('loss') for k in line)


def _make_bookkeeping_hook():
    """Build the hook that keeps per-epoch detections and the accumulated wall time (needs mmengine)."""
    from mmengine.dist import is_main_process
    from mmengine.hooks import Hook

    from dynrcnn.evaluation.provenance import atomic_copy, atomic_write_json

    class RunBookkeepingHook(Hook):
        """Copy each validation's COCO detections to ``detections/epoch_{N}.bbox.json`` and add up wall time.

        The wall time of every attempt is added to ``wall_time.json`` after each epoch, so a resumed training
        reports the time of all its attempts.
        """
        priority = 'LOWEST'

        def before_train(self, runner) -> None:
            self._start = time.time()
            self._previous = 0.0
            path = osp.join(runner.work_dir, WALL_TIME_FILE)
            if osp.exists(path):
                with open(path) as f:
                    self._previous = float(json.load(f)['seconds'])

        def _save_wall_time(self, runner) -> None:
            if is_main_process():
                atomic_write_json(osp.join(runner.work_dir, WALL_TIME_FILE),
                                  dict(seconds=self._previous + time.time() - self._start))

        def after_train_epoch(self, runner) -> None:
            self._save_wall_time(runner)

        def after_train(self, runner) -> None:
            self._save_wall_time(runner)

        def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
            src = osp.join(runner.work_dir, f'{VAL_DUMP_PREFIX}.bbox.json')
            if is_main_process() and osp.exists(src):
                atomic_copy(src, osp.join(runner.work_dir, 'detections', f'epoch_{runner.epoch}.bbox.json'))
                os.unlink(src)  # never mistake it for the next validation's output

    return RunBookkeepingHook()


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
    for name in EVALUATOR_SPLITS:
        evaluator = cfg.get(name)
        for metric in (evaluator if isinstance(evaluator, list) else [evaluator]) if evaluator else []:
            if 'Coco' in str(metric.get('type', '')):
                metric['outfile_prefix'] = osp.join(args.work_dir, VAL_DUMP_PREFIX)
    import torch
    if args.launcher != 'none' and not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'  # nccl needs GPUs
    return cfg


def resume_decision(work_dir: str, resolved_text: str) -> str:
    """What to do with an existing work dir: ``'fresh'``, ``'resume'`` or ``'supersede'``.

    A work dir whose checkpoints were trained with a different resolved config (changed hyper-parameters,
    schedule, ...) must not be resumed (``'supersede'``: it is moved aside and the training starts over). The
    decision only reads files, so every rank of a distributed training reaches the same one.

    Args:
        work_dir (str): The training work dir.
        resolved_text (str): The resolved config of this attempt.

    Returns:
        str: The decision.
    """
    from mmengine.runner import find_latest_checkpoint

    if not osp.isdir(work_dir) or find_latest_checkpoint(work_dir) is None:
        return 'fresh'
    previous = osp.join(work_dir, 'resolved_config.py')
    if osp.exists(previous) and open(previous).read() == resolved_text:
        return 'resume'
    return 'supersede'


def is_rank_zero() -> bool:
    # Before the runner initialises torch.distributed, the launcher's RANK variable is the only rank there is.
    return int(os.environ.get('RANK', '0')) == 0


def finalize_run(runner, cfg, args, resolved_config: str) -> dict:
    """Copy the contract's files into the run dir and write the manifest last. Returns the manifest."""
    import torch
    from mmengine.runner import find_latest_checkpoint

    from dynrcnn.evaluation.provenance import atomic_copy, atomic_write_json, atomic_write_text, sha256_file
    from dynrcnn.tools.evaluate import EPOCH_RECORD

    run_dir = args.run_dir
    os.makedirs(osp.join(run_dir, 'detections'), exist_ok=True)
    atomic_write_text(osp.join(run_dir, 'scalars.json'),
                      ''.join(json.dumps(line) + '\n' for line in merge_scalars(args.work_dir)))
    # Per-epoch detections of an earlier training of this run (e.g. before a changed config was retrained) must
    # not survive: the evaluation keeps those it finds current, and the report would mix trainings.
    # The evaluation's record of how it made its per-epoch files (detections/epoch_detections.json) goes with them.
    for stale in glob.glob(osp.join(run_dir, 'detections', 'epoch_*.bbox.json')) + \
            glob.glob(osp.join(run_dir, 'detections', EPOCH_RECORD)):
        os.unlink(stale)
    epoch_files = sorted(glob.glob(osp.join(args.work_dir, 'detections', 'epoch_*.bbox.json')))
    for path in epoch_files:
        atomic_copy(path, osp.join(run_dir, 'detections', osp.basename(path)))
    atomic_copy(resolved_config, osp.join(run_dir, 'config.py'))
    with open(osp.join(args.work_dir, WALL_TIME_FILE)) as f:
        wall_time = float(json.load(f)['seconds'])
    checkpoint = find_latest_checkpoint(args.work_dir)
    if checkpoint is None:
        raise RuntimeError(f'training finished but no checkpoint was saved in {args.work_dir}: the config needs '
                           'a CheckpointHook (default_hooks.checkpoint)')
    world_size = runner.world_size
    manifest = dict(
        config=args.config,
        config_sha256=sha256_file(resolved_config),
        checkpoint=osp.abspath(checkpoint),
        work_dir=osp.abspath(args.work_dir),
        seed=args.seed,
        dataset=args.dataset,
        data_root=args.data_root,
        cfg_options=[f'{k}={v}' for k, v in (args.cfg_options or {}).items()],
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu',
        gpus=world_size if torch.cuda.is_available() else 0,
        world_size=world_size,
        images_per_gpu=int(cfg.train_dataloader.batch_size),
        lr=effective_lr(cfg, world_size),
        base_lr=float(cfg.optim_wrapper.optimizer.lr),
        max_epochs=int(runner.max_epochs),
        threads=torch.get_num_threads(),
        wall_time_s=wall_time,
        epoch_detections=[osp.basename(p) for p in epoch_files],
    )
    atomic_write_json(osp.join(run_dir, MANIFEST), manifest)
    return manifest


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.deterministic:
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')  # must precede CUDA init
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    import dynrcnn.compat  # noqa: F401  makes mmengine checkpoints loadable under torch >= 2.6 (resume)
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner

    from dynrcnn.evaluation.provenance import atomic_write_text

    cfg = build_config(args)
    resolved_text = cfg.pretty_text
    decision = resume_decision(args.work_dir, resolved_text)
    if decision == 'supersede' and is_rank_zero():
        aside = f'{args.work_dir.rstrip("/")}.superseded-{time.strftime("%Y%m%d_%H%M%S")}'
        os.rename(args.work_dir, aside)
        print(f'[dynrcnn.tools.train] the checkpoints in {args.work_dir} were trained with another config: '
              f'moved to {aside}; starting over', flush=True)
    resuming = decision == 'resume'
    os.makedirs(args.work_dir, exist_ok=True)
    resolved_config = osp.join(args.work_dir, 'resolved_config.py')
    if is_rank_zero():
        atomic_write_text(resolved_config, resolved_text)
    # Resume from the newest checkpoint of an earlier attempt; otherwise keep the config's own load_from.
    cfg.resume = resuming
    if resuming:
        cfg.load_from = None
    print(f'[dynrcnn.tools.train] {"resuming from " + args.work_dir if resuming else "starting fresh"}', flush=True)

    runner = Runner.from_cfg(cfg)
    runner.register_hook(_make_bookkeeping_hook())
    if args.threads:
        torch.set_num_threads(args.threads)  # the runner's environment setup may have changed it
    runner.train()
    if args.run_dir and is_main_process():
        manifest = finalize_run(runner, cfg, args, resolved_config)
        print(f'[dynrcnn.tools.train] finished in {manifest["wall_time_s"]:.1f} s; checkpoint '
              f'{manifest["checkpoint"]}', flush=True)


if __name__ == '__main__':
    main()
