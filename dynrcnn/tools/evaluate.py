"""Evaluate the final checkpoint of one run on the val split and write its ``metrics.json``.

Usage (what the Snakemake ``evaluate`` rule runs)::

    python -m dynrcnn.tools.evaluate --run-dir R --family F --arm A --variant V --seed S \
        [--dataset synthetic|coco] [--threads N] [--out R/metrics.json]

Reads ``R/train_manifest.json`` (through :func:`dynrcnn.run_record.read_manifest`: its paths are relative to the
run folder, so a copied results tree evaluates its own checkpoint) and ``R/config.py``, both written by
:mod:`dynrcnn.tools.train`. Runs inference of the final checkpoint on the val split with mmengine's test loop
(:mod:`dynrcnn.evaluation.inference`; the COCO result json is kept as ``R/detections/final.bbox.json``), computes
every metric from one pycocotools COCOeval run (:func:`dynrcnn.evaluation.coco_metrics.evaluate_detections`) and
writes ``metrics.json`` with its provenance through :func:`dynrcnn.run_record.write_metrics` (checked, atomic: a
crash at any point leaves no ``metrics.json``, or the previous complete one).

A run whose training has not finished, or whose checkpoint is gone, is one error line naming the run and the fix
(exit status 1).
"""

import argparse
import os.path as osp
import shutil
import sys
import time

from dynrcnn import controls, run_record
from dynrcnn.data.check_dataset import annotation_hashes
from dynrcnn.dynamic_settings import settings_of
from dynrcnn.evaluation import inference
from dynrcnn.evaluation.coco_metrics import evaluate_detections
from dynrcnn.fileio import atomic_copy
from dynrcnn.provenance import cpu_provenance, git_commit, package_versions
from dynrcnn.run_folder import checked_manifest
from dynrcnn.tools import orphan_guard
from dynrcnn.tools.export import loaded_weights_sha256

PROG = "python -m dynrcnn.tools.evaluate"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="COCO evaluation of one run; writes metrics.json.")
    parser.add_argument("--run-dir", required=True, help="run folder holding train_manifest.json and config.py")
    parser.add_argument("--family", required=True)
    parser.add_argument("--arm", required=True, choices=run_record.ARMS)
    parser.add_argument(
        "--variant", required=True, help="default, ki{K_I}-kb{K_beta}-c{C} or a control (beta{B}, l1, iou{T}, static)"
    )
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--dataset", choices=run_record.DATASETS, default="synthetic")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument("--out", help="metrics file (default: RUN_DIR/metrics.json)")
    parser.add_argument("--detections", help="evaluate this COCO result json instead of running inference")
    args = parser.parse_args(argv)
    try:
        run_record.parse_variant(args.variant)
    except ValueError as e:
        parser.error(f"--variant: {e}")
    return args


def hyperparameters(cfg) -> dict:
    """The run's Dynamic R-CNN hyper-parameters, defaults filled (None where the config has no ``dynamic_rcnn``
    block)."""
    block = settings_of(cfg) or {}
    return {k: block.get(k) for k in run_record.HYPERPARAMETERS}


def control(cfg, run_dir, variant) -> dict:
    """``{"control": ...}``: a control's fixed values as its resolved config has them (a static control's also
    the full run's values of its endpoint.json); ``{}`` for a run that is no control."""
    if controls.parse_control(variant) is None:
        return {}
    endpoint = None
    if variant == controls.STATIC_VARIANT:
        endpoint = run_record.read_endpoint(osp.join(run_dir, run_record.ENDPOINT_FILE))
    rcnn_assigner = cfg.model.train_cfg.rcnn.assigner
    loss_bbox = cfg.model.roi_head.bbox_head.loss_bbox
    return dict(control=run_record.control_record(variant, rcnn_assigner, loss_bbox, endpoint))


def val_ann_file(cfg) -> str:
    """The COCO annotation file of the val split, as the training tool set it."""
    evaluator = cfg.val_evaluator
    for metric in evaluator if isinstance(evaluator, list) else [evaluator]:
        if metric.get("ann_file"):
            return metric["ann_file"]
    raise ValueError("config has no val_evaluator.ann_file: was it written by dynrcnn.tools.train?")


def evaluate(args) -> str:
    """Evaluate the run of ``args`` (see :func:`parse_args`); returns the metrics file written."""
    start = time.time()
    run_dir = args.run_dir
    manifest = run_record.read_manifest(run_dir) if args.detections else checked_manifest(run_dir)
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(run_dir, run_record.CONFIG_FILE))
    final_dets = osp.join(run_dir, run_record.FINAL_DETECTIONS_FILE)
    eval_device = weights = None
    if args.detections:
        atomic_copy(args.detections, final_dets)
    else:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        scratch = osp.join(manifest["work_dir"], "eval")
        shutil.rmtree(scratch, ignore_errors=True)
        # of the weights `export` publishes, from the checkpoint the inference loads (the file is read once)
        hashes = []

        def hash_loaded(checkpoint):
            hashes.append(loaded_weights_sha256(checkpoint, manifest["checkpoint"]))

        for _, dets in inference.detect(cfg, {"final": manifest["checkpoint"]}, scratch, on_load=hash_loaded):
            atomic_copy(dets, final_dets)
        eval_device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        (weights,) = hashes
    metrics = evaluate_detections(val_ann_file(cfg), final_dets)
    record = dict(
        run=dict(
            family=args.family,
            arm=args.arm,
            variant=args.variant,
            seed=args.seed,
            dataset=args.dataset,
            hyperparameters=hyperparameters(cfg),
            **control(cfg, run_dir, args.variant),
        ),
        metrics=metrics,
        provenance=run_record.provenance_record(
            manifest,
            git_commit=git_commit(),
            packages=package_versions(),
            eval_device=eval_device,
            eval_cpu=cpu_provenance(),
            eval_wall_time_s=time.time() - start,
            weights_sha256=weights,
            # the annotation files the run was evaluated with (and trained with, unless edited in between)
            annotations_sha256=annotation_hashes(manifest["data_root"], manifest["dataset"]),
        ),
    )
    out = args.out or osp.join(run_dir, run_record.METRICS_FILE)
    run_record.write_metrics(out, record)
    print(f"[dynrcnn.tools.evaluate] {out}: AP {metrics['AP']:.4f} AP50 {metrics['AP50']:.4f}", flush=True)
    return out


def main(argv=None) -> None:
    args = parse_args(argv)
    orphan_guard.install()  # the job ends with the pipeline that started it
    try:
        evaluate(args)
    except run_record.RunRecordError as e:
        sys.exit(f"{PROG}: error: {e}")


if __name__ == "__main__":
    main()
