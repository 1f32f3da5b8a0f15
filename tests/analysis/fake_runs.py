"""Fake run outputs in the pipeline's on-disk format, for the analysis tests and benchmarks/bench_report.py only.

The numbers are made up from explicit inputs (``level`` per run); they are never results. The layout is the run
record's (:mod:`dynrcnn.run_record`): ``{root}/{arm}/{variant}/seed{seed}/`` with ``metrics.json``,
``scalars.json``, ``detections/final.bbox.json`` and ``epoch_detections/epoch_{N}.bbox.json``.
"""

import json
import zlib
from pathlib import Path

import numpy as np

from dynrcnn import run_record as rr
from dynrcnn.run_record import IOU_KEYS

SWITCHES = {"baseline": (False, False), "dla": (True, False), "dsl": (False, True), "dynamic_rcnn": (True, True)}


def fake_metrics(level, undefined_small=False):
    """COCOeval-like fractions that are all ``level`` plus a fixed offset.

    AP = level, AP50 = level + 0.2, AP75 = level + 0.1, APS = level - 0.1 (or -1), APM = level,
    APL = level + 0.1, AP at IoU t = level + 0.2 - 0.4 (t - 0.5).

    Args:
        level (float): the run's AP, a fraction.
        undefined_small (bool): report APS as -1 (no small objects).

    Returns:
        dict: the ``metrics`` block of metrics.json.
    """
    per_iou = {k: round(level + 0.2 - 0.4 * (float(k) - 0.5), 6) for k in IOU_KEYS}
    return {
        "AP": level,
        "AP50": per_iou["0.50"],
        "AP75": per_iou["0.75"],
        "APS": -1 if undefined_small else round(level - 0.1, 6),
        "APM": level,
        "APL": round(level + 0.1, 6),
        "AP_at_iou": per_iou,
    }


def write_val_set(root, num_images=4, size=64, seed=0):
    """A tiny COCO validation split with PNG images.

    Args:
        root (str | Path): folder; writes ``val/*.png`` and ``annotations/instances_val.json``.
        num_images (int): images.
        size (int): square image size in pixels.
        seed (int): random seed.

    Returns:
        tuple[Path, Path, dict]: annotation file, image folder, the annotation dict.
    """
    from matplotlib.image import imsave

    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "val").mkdir(parents=True, exist_ok=True)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(1, num_images + 1):
        img = np.full((size, size, 3), 0.2) + 0.1 * rng.random((size, size, 3))
        for _ in range(2):
            w, h = rng.integers(size // 6, size // 3, 2)
            x, y = rng.integers(0, size - w), rng.integers(0, size - h)
            img[y : y + h, x : x + w] = rng.random(3)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": 1,
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": float(w * h),
                    "iscrowd": 0,
                }
            )
        imsave(root / "val" / f"{i:06d}.png", img.clip(0, 1))
        images.append({"id": i, "file_name": f"{i:06d}.png", "width": size, "height": size})
    data = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "shape"}]}
    ann_path = root / "annotations" / "instances_val.json"
    ann_path.write_text(json.dumps(data))
    return ann_path, root / "val", data


def _scalar_lines(arm, iters, log_interval, interval, epochs, iters_per_epoch, level, rng):
    dla, dsl = SWITCHES[arm]
    lines, iou, beta = [], 0.5, 1.0
    for step in range(log_interval, iters + 1, log_interval):
        progress = step / iters
        row = {
            "lr": 0.02,
            "loss": 1.5 - progress + 0.05 * rng.random(),
            "loss_rpn_cls": 0.3 - 0.2 * progress,
            "loss_rpn_bbox": 0.2 - 0.1 * progress,
            "loss_cls": 0.6 - 0.3 * progress,
            "loss_bbox": 0.4 - 0.2 * progress,
            "acc": 90 + 5 * progress,
            "dynrcnn/iou_thr": iou,
            "dynrcnn/beta": beta,
            "dynrcnn/iou_stat": 0.4 + 0.2 * progress,
            "dynrcnn/beta_stat": 1.0 - 0.8 * progress,
            "dynrcnn/pos_per_img": 40 - (15 if dla else 0) * progress,
            "step": step,
        }
        if step % interval == 0:
            iou = max(0.4, 0.4 + 0.18 * progress) if dla else 0.5
            beta = min(1.0, 1.0 - 0.8 * progress) if dsl else 1.0
            row.update({"dynrcnn/updated_iou_thr": iou, "dynrcnn/updated_beta": beta})
        lines.append(row)
        if step % iters_per_epoch == 0:
            epoch = step // iters_per_epoch
            lines.append(
                {
                    "coco/bbox_mAP": round(level * epoch / epochs, 4),
                    "coco/bbox_mAP_50": round((level + 0.2) * epoch / epochs, 4),
                    "step": epoch,
                }
            )
    return lines


def _detections(val_data, epoch, epochs, dets_per_image, rng):
    gts = {}
    for a in val_data["annotations"]:
        gts.setdefault(a["image_id"], []).append(a["bbox"])
    dets = []
    for im in val_data["images"]:
        boxes = gts.get(im["id"], [[0, 0, 10, 10]])
        for k in range(dets_per_image):
            x, y, w, h = boxes[k % len(boxes)]
            jitter = (1 - epoch / (epochs + 1)) * 0.3 * w * rng.standard_normal(4)
            dets.append(
                {
                    "image_id": im["id"],
                    "category_id": 1,
                    "bbox": [
                        round(float(v), 2)
                        for v in (x + jitter[0], y + jitter[1], max(1.0, w + jitter[2]), max(1.0, h + jitter[3]))
                    ],
                    "score": round(float(rng.uniform(0.05, 1.0)), 4),
                }
            )
    return dets


def write_run(
    root,
    arm,
    seed,
    level,
    *,
    variant="default",
    family="synthetic",
    dataset="synthetic",
    hyperparameters=None,
    val_data=None,
    iters=200,
    log_interval=10,
    interval=100,
    epochs=2,
    dets_per_image=3,
    undefined_small=False,
    control=None,
    provenance=None,
):
    """Write one fake run.

    Args:
        root (str | Path): the runs folder of a family (``results/runs/{family}``).
        arm (str): arm.
        seed (int): seed.
        level (float): the run's AP (fraction); every metric is derived from it (:func:`fake_metrics`).
        variant (str): ``default`` or ``ki..-kb..-c..``.
        family (str): family recorded in metrics.json.
        dataset (str): dataset recorded in metrics.json.
        hyperparameters (dict, optional): iou_topk / beta_topk / update_iter_interval.
        val_data (dict, optional): COCO annotation dict; detections are written for its images.
        iters (int): training iterations; ``iters // epochs`` per epoch.
        log_interval (int): iterations between logged lines.
        interval (int): update interval C of the fake dynamics.
        epochs (int): epochs (one validation line and one detection file each).
        dets_per_image (int): detections per image per epoch.
        undefined_small (bool): APS = -1.
        control (dict, optional): the ``run.control`` block of a control variant (:func:`fake_control`).
        provenance (dict, optional): keys of the ``provenance`` block to replace (e.g. ``git_commit``).

    Returns:
        Path: the run folder.
    """
    rng = np.random.default_rng(zlib.crc32(f"{arm}/{variant}/{seed}".encode()))
    run_dir = Path(root) / rr.run_name(arm, variant, seed)
    final = run_dir / rr.FINAL_DETECTIONS_FILE
    epoch_dir = run_dir / rr.EPOCH_DETECTIONS_DIR
    final.parent.mkdir(parents=True, exist_ok=True)
    epoch_dir.mkdir(parents=True, exist_ok=True)
    hyper = hyperparameters or {"iou_topk": 75, "beta_topk": 10, "update_iter_interval": interval}
    metrics = {
        "run": {
            "family": family,
            "arm": arm,
            "variant": variant,
            "seed": seed,
            "dataset": dataset,
            "hyperparameters": hyper,
            **({"control": control} if control is not None else {}),
        },
        "metrics": fake_metrics(level, undefined_small),
        "provenance": {
            "git_commit": "0123456789abcdef",
            "config_sha256": "f" * 64,
            "packages": {"mmdet": "3.3.0"},
            "seed": seed,
            "device": "cpu",
            "wall_time_s": 600.0,
            "cpu_model": "Intel(R) Xeon(R) Processor @ 2.80GHz",
            "cpu_capability": "AVX2",
            "gpus": 1,
            "images_per_gpu": 2,
            "lr": 0.02,
            **(provenance or {}),
        },
    }
    (run_dir / rr.METRICS_FILE).write_text(json.dumps(metrics))
    lines = _scalar_lines(arm, iters, log_interval, interval, epochs, iters // epochs, level, rng)
    (run_dir / rr.SCALARS_FILE).write_text("".join(json.dumps(r) + "\n" for r in lines))
    val_data = val_data or {"images": [], "annotations": []}
    for epoch in range(1, epochs + 1):
        dets = _detections(val_data, epoch, epochs, dets_per_image, rng)
        text = json.dumps(dets)
        (epoch_dir / rr.epoch_detections_name(epoch)).write_text(text)
    final.write_text(text)
    return run_dir


def fake_control(variant, endpoint=None):
    """The ``run.control`` block of a control variant as :func:`dynrcnn.run_record.control_record` makes it from a
    resolved config of the synthetic family (threshold 0.5, SmoothL1 beta 1.0, changed by the variant).

    Args:
        variant (str): ``beta{B}``, ``l1``, ``iou{T}`` or ``static``.
        endpoint (tuple[float, float], optional): the static control's (iou_thr, beta).

    Returns:
        dict
    """
    control = rr.parse_control(variant)
    iou_thr, beta = endpoint if endpoint else (control.get("iou_thr", 0.5), control.get("beta", 1.0))
    assigner = {name: iou_thr for name in rr.ASSIGNER_THRESHOLDS}
    loss = (
        {"type": "L1Loss", "loss_weight": 1.0} if variant == rr.L1_VARIANT else {"type": "SmoothL1Loss", "beta": beta}
    )
    record = None
    if variant == rr.STATIC_VARIANT:
        record = {"run": "dynamic_rcnn/default/seed0", "step": 200, "values": {"iou_thr": iou_thr, "beta": beta}}
    return rr.control_record(variant, assigner, loss, record)


def run_files(root):
    """The report's inputs for every run under ``root`` (as the workflow passes them): lists of metrics.json
    files, scalars.json files and epoch_detections folders, in the same run order.

    Args:
        root (str | Path): the runs folder of a family.

    Returns:
        tuple[list[Path], list[Path], list[Path]]
    """
    metrics = sorted(Path(root).glob(f"*/*/seed*/{rr.METRICS_FILE}"))
    folders = [m.parent for m in metrics]
    return metrics, [f / rr.SCALARS_FILE for f in folders], [f / rr.EPOCH_DETECTIONS_DIR for f in folders]


def report_args(root):
    """``--metrics ... --scalars ... --epoch-detections ...`` of :func:`run_files`, as strings."""
    metrics, scalars, epochs = run_files(root)
    return (
        ["--metrics", *map(str, metrics)]
        + ["--scalars", *map(str, scalars)]
        + ["--epoch-detections", *map(str, epochs)]
    )


#: The header of a Snakemake benchmark file (``benchmark:``), the columns :mod:`analysis.compute` reads among them.
BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(root, rule, family, arm, seed, wall_s, cpu_s, max_rss_mb, variant="default"):
    """Write one job's Snakemake benchmark file at its workflow path below ``root`` (``{root}/{rule}/{family}/...``).

    Args:
        root (str | Path): the benchmarks folder (``results/benchmarks``).
        rule (str): ``train``, ``evaluate`` or ``epoch_detections``.
        family (str): config family.
        arm (str): arm.
        seed (int): seed.
        wall_s (float): wall seconds (``s``).
        cpu_s (float): CPU seconds (``cpu_time``).
        max_rss_mb (float): peak resident memory (``max_rss``).
        variant (str): variant.

    Returns:
        Path: the file.
    """
    path = Path(root) / rule / family / arm / variant / f"seed{seed}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCHMARK_HEADER + f"{wall_s}\t0:00:00\t{max_rss_mb}\t1\t1\t1\t0\t0\t50\t{cpu_s}\n")
    return path


def memory_run(arm, seed, metrics, variant="default", train=None, provenance=None):
    """An in-memory :class:`analysis.runs.Run` of the synthetic family (no files): ``metrics`` as fractions,
    ``train`` a frame of training scalars (default: none logged)."""
    import pandas as pd

    from analysis.runs import Run

    return Run(
        arm=arm,
        variant=variant,
        seed=seed,
        path=Path(f"/runs/{arm}/{variant}/seed{seed}"),
        family="synthetic",
        dataset="synthetic",
        metrics=metrics,
        hyperparameters={"iou_topk": 15, "beta_topk": 6, "update_iter_interval": 10},
        provenance=provenance or {},
        train=pd.DataFrame({"step": []}) if train is None else train,
        val=pd.DataFrame({"step": []}),
        detections={},
    )
