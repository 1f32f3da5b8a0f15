"""Evaluate the final checkpoint of one run on the val split and write its ``metrics.json``.

Usage (what the Snakemake ``evaluate`` rule runs)::

    python -m dynrcnn.tools.evaluate --run-dir R --family F --arm A --variant V --seed S \
        [--dataset synthetic|coco] [--threads N] [--out R/metrics.json]

Reads ``R/train_manifest.json`` and ``R/config.py`` (written by :mod:`dynrcnn.tools.train`), runs inference of
the final checkpoint on the val split with mmengine's test loop (``CocoMetric`` in ``format_only`` mode dumps the
COCO result json to ``R/detections/final.bbox.json``), computes every metric from one pycocotools COCOeval run
(:func:`dynrcnn.evaluation.coco_metrics.evaluate_detections`) and writes ``metrics.json`` atomically with its
provenance. A crash at any point leaves no ``metrics.json`` (or the previous complete one).
"""
import argparse
import copy
import json
import os
import os.path as osp
import re
import shutil
import time

from dynrcnn.evaluation.coco_metrics import evaluate_detections
from dynrcnn.evaluation.provenance import atomic_copy, atomic_write_json, git_commit, package_versions

MANIFEST = 'train_manifest.json'
#: The hyper-parameters recorded with every run, read from ``model.train_cfg.rcnn.dynamic_rcnn``.
HYPERPARAMETERS = ('iou_topk', 'beta_topk', 'update_iter_interval')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='COCO evaluation of one run; writes metrics.json atomically.')
    parser.add_argument('--run-dir', required=True, help='run folder holding train_manifest.json and config.py')
    parser.add_argument('--family', required=True)
    parser.add_argument('--arm', required=True)
    parser.add_argument('--variant', required=True)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--dataset', choices=['synthetic', 'coco'], default='synthetic')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads (CPU)')
    parser.add_argument('--out', help='metrics file (default: RUN_DIR/metrics.json)')
    parser.add_argument('--detections', help='evaluate this COCO result json instead of running inference')
    parser.add_argument('--epoch-detections', action='store_true',
                        help='also detect with every kept epoch checkpoint (detections/epoch_{N}.bbox.json)')
    parser.add_argument('--epoch-max-images', type=int, default=None,
                        help='per-epoch detections on the first N val images only (default: all)')
    return parser.parse_args(argv)


def hyperparameters(cfg) -> dict:
    """The run's Dynamic R-CNN hyper-parameters (None where the config has no ``dynamic_rcnn`` block)."""
    try:
        block = cfg.model.train_cfg.rcnn.get('dynamic_rcnn') or {}
    except AttributeError:
        block = {}
    return {k: block.get(k) for k in HYPERPARAMETERS}


def val_ann_file(cfg) -> str:
    """The COCO annotation file of the val split, as the training tool set it."""
    evaluator = cfg.val_evaluator
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if metric.get('ann_file'):
            return metric['ann_file']
    raise ValueError('config has no val_evaluator.ann_file: was it written by dynrcnn.tools.train?')


def build_test_runner(cfg, checkpoint: str, work_dir: str, max_images=None):
    """An mmengine Runner whose test loop detects on the val split with ``checkpoint``.

    ``CocoMetric`` runs in ``format_only`` mode: it only dumps the COCO result json to ``{work_dir}/dets.bbox.json``
    (the metrics come from our own single COCOeval run).

    Args:
        cfg (mmengine.Config): The run's resolved training config.
        checkpoint (str): Weights to load.
        work_dir (str): Scratch folder of this inference.
        max_images (int, optional): Detect on the first ``max_images`` val images only.

    Returns:
        tuple[Runner, str]: The runner and the path its test loop writes the detections to.
    """
    import dynrcnn.compat  # noqa: F401  mmengine checkpoints under torch >= 2.6
    from mmengine.runner import Runner

    prefix = osp.join(work_dir, 'dets')
    cfg = cfg.copy()
    loader = copy.deepcopy(cfg.val_dataloader)
    if max_images:
        loader['dataset']['indices'] = int(max_images)
    cfg.test_dataloader = loader
    metric = dict(cfg.val_evaluator if not isinstance(cfg.val_evaluator, list) else cfg.val_evaluator[0])
    metric.update(format_only=True, outfile_prefix=prefix)
    cfg.test_evaluator = metric
    cfg.test_cfg = cfg.get('test_cfg') or dict(type='TestLoop')
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.launcher = 'none'
    cfg.custom_hooks = []  # training-time hooks (statistics logging) have nothing to do at test time
    return Runner.from_cfg(cfg), f'{prefix}.bbox.json'


def epoch_checkpoints(work_dir: str) -> dict:
    """``{epoch: path}`` of the ``epoch_{N}.pth`` checkpoints kept in a training work dir."""
    found = {}
    for name in os.listdir(work_dir):
        match = re.fullmatch(r'epoch_(\d+)\.pth', name)
        if match:
            found[int(match.group(1))] = osp.join(work_dir, name)
    return dict(sorted(found.items()))


#: Sidecar of ``detections/``: ``{epoch: {source: 'evaluate', max_images: N or None}}`` for every per-epoch file this
#: tool wrote, so a later evaluation with other settings regenerates them (the training's own are never listed).
EPOCH_RECORD = 'epoch_detections.json'


def _epoch_file(run_dir: str, epoch: int) -> str:
    return osp.join(run_dir, 'detections', f'epoch_{epoch}.bbox.json')


def read_epoch_record(run_dir: str) -> dict:
    """``{epoch: settings}`` of the per-epoch files this tool wrote whose file is still there."""
    try:
        with open(osp.join(run_dir, 'detections', EPOCH_RECORD)) as f:
            record = {int(k): v for k, v in json.load(f).items()}
    except (FileNotFoundError, ValueError, AttributeError):
        return {}
    return {e: v for e, v in record.items() if osp.exists(_epoch_file(run_dir, e))}


def record_epoch(run_dir: str, epoch: int, settings: dict) -> None:
    """Note (atomically) that ``detections/epoch_{epoch}.bbox.json`` was written here with ``settings``."""
    record = read_epoch_record(run_dir)
    record[epoch] = settings
    atomic_write_json(osp.join(run_dir, 'detections', EPOCH_RECORD),
                      {str(e): v for e, v in sorted(record.items())})


def epoch_settings(max_images=None) -> dict:
    """How this evaluation makes per-epoch detections (0 and None both mean the whole val split)."""
    return dict(source='evaluate', max_images=int(max_images) if max_images else None)


def epoch_is_current(manifest: dict, run_dir: str, epoch: int, max_images=None, record=None) -> bool:
    """Whether ``detections/epoch_{epoch}.bbox.json`` can be kept by an evaluation with ``max_images``.

    Kept: the training's own validations (listed in the manifest's ``epoch_detections``, full val split) and the
    files this tool made with the same settings. A file of unknown origin (e.g. from before the sidecar) is redone,
    unless the manifest predates ``epoch_detections``: then an unrecorded file is taken as the training's.
    """
    if not osp.exists(_epoch_file(run_dir, epoch)):
        return False
    if f'epoch_{epoch}.bbox.json' in (manifest.get('epoch_detections') or []):
        return True
    if record is None:
        record = read_epoch_record(run_dir)
    if epoch not in record and 'epoch_detections' not in manifest:
        return True
    return record.get(epoch) == epoch_settings(max_images)


def detect_epochs(cfg, manifest: dict, run_dir: str, max_images=None) -> list:
    """Write ``detections/epoch_{N}.bbox.json`` for every kept checkpoint that has no current one yet.

    The report draws each arm's sample detections at every saved checkpoint; training validates only every
    ``val_interval`` epochs, so the missing epochs are detected here. A file an earlier evaluation made with other
    settings (``max_images``) is detected again; each file written is recorded in ``detections/epoch_detections.json``.

    Returns:
        list[int]: The epochs detected by this call.
    """
    record = read_epoch_record(run_dir)
    todo = {e: p for e, p in epoch_checkpoints(manifest['work_dir']).items()
            if not epoch_is_current(manifest, run_dir, e, max_images, record)}
    if not todo:
        return []
    runner, dets = build_test_runner(cfg, next(iter(todo.values())), osp.join(manifest['work_dir'], 'eval_epochs'),
                                     max_images)
    for i, (epoch, path) in enumerate(todo.items()):
        if i == 0:
            runner.test()  # sets the loop up and loads load_from
        else:
            runner.load_checkpoint(path)
            runner.test_loop.run()
        atomic_copy(dets, _epoch_file(run_dir, epoch))
        record_epoch(run_dir, epoch, epoch_settings(max_images))
    return list(todo)


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.time()
    manifest_path = osp.join(args.run_dir, MANIFEST)
    if not osp.exists(manifest_path):
        raise FileNotFoundError(f'{manifest_path} not found: the training of this run has not finished')
    with open(manifest_path) as f:
        manifest = json.load(f)
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(args.run_dir, 'config.py'))
    final_dets = osp.join(args.run_dir, 'detections', 'final.bbox.json')
    if args.detections:
        atomic_copy(args.detections, final_dets)
    else:
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
        for scratch in ('eval', 'eval_epochs'):
            shutil.rmtree(osp.join(manifest['work_dir'], scratch), ignore_errors=True)
        runner, dets = build_test_runner(cfg, manifest['checkpoint'], osp.join(manifest['work_dir'], 'eval'))
        runner.test()
        atomic_copy(dets, final_dets)
        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'
        if args.epoch_detections:
            last_epoch = int(manifest['max_epochs'])
            if not args.epoch_max_images and osp.basename(manifest['checkpoint']) == f'epoch_{last_epoch}.pth' \
                    and not epoch_is_current(manifest, args.run_dir, last_epoch):
                # same weights, same images: no second inference
                atomic_copy(final_dets, _epoch_file(args.run_dir, last_epoch))
                record_epoch(args.run_dir, last_epoch, epoch_settings())
            detected = detect_epochs(cfg, manifest, args.run_dir, args.epoch_max_images)
            print(f'[dynrcnn.tools.evaluate] per-epoch detections for epochs {detected}', flush=True)
    metrics = evaluate_detections(val_ann_file(cfg), final_dets)
    record = dict(
        run=dict(family=args.family, arm=args.arm, variant=args.variant, seed=args.seed, dataset=args.dataset,
                 hyperparameters=hyperparameters(cfg)),
        metrics=metrics,
        provenance=dict(
            git_commit=git_commit(),
            config_sha256=manifest['config_sha256'],
            packages=package_versions(),
            seed=manifest['seed'],
            device=manifest['device'],
            wall_time_s=manifest['wall_time_s'],
            gpus=manifest['gpus'],
            images_per_gpu=manifest['images_per_gpu'],
            lr=manifest['lr'],
            base_lr=manifest.get('base_lr'),
            threads=manifest.get('threads'),
            eval_device=None if args.detections else device,
            eval_wall_time_s=time.time() - start,
            checkpoint=osp.basename(manifest['checkpoint']),
        ),
    )
    out = args.out or osp.join(args.run_dir, 'metrics.json')
    atomic_write_json(out, record)
    print(f'[dynrcnn.tools.evaluate] {out}: AP {metrics["AP"]:.4f} AP50 {metrics["AP50"]:.4f}', flush=True)


if __name__ == '__main__':
    main()
