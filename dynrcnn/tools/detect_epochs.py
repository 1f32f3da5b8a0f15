"""Detect with every epoch checkpoint of one run on the first val images: the report's sample detections.

Usage (what the Snakemake ``epoch_detections`` rule runs)::

    python -m dynrcnn.tools.detect_epochs --run-dir R [--threads N] [--max-images K] --out R/epoch_detections

For each checkpoint in the manifest's ``epoch_checkpoints`` (read through :func:`dynrcnn.run_record.read_manifest`),
runs mmengine's test loop on the first ``K`` val images (0 or absent: the whole val split; the same inference as
:mod:`dynrcnn.tools.evaluate`, :mod:`dynrcnn.evaluation.inference`) and writes ``epoch_{N}.bbox.json``. The files
are made in a temporary folder next to ``--out``, which replaces ``--out`` only when every epoch is done
(:func:`dynrcnn.fileio.replace_dir`): a failure leaves the previous folder as it was.

A run whose training has not finished, or whose epoch checkpoints are gone, is one error line naming the run and
the fix (exit status 1).
"""

import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

from dynrcnn import run_record
from dynrcnn.evaluation import inference
from dynrcnn.fileio import atomic_copy, replace_dir
from dynrcnn.run_folder import checked_manifest
from dynrcnn.tools import orphan_guard

PROG = "python -m dynrcnn.tools.detect_epochs"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Detections of every epoch checkpoint of one run on the first val images."
    )
    parser.add_argument("--run-dir", required=True, help="run folder holding train_manifest.json and config.py")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (CPU)")
    parser.add_argument(
        "--max-images", type=int, default=None, help="detect on the first K val images (0 or absent: all)"
    )
    parser.add_argument("--out", required=True, help="folder of the epoch_{N}.bbox.json files (replaced)")
    args = parser.parse_args(argv)
    if args.max_images is not None and args.max_images < 0:
        parser.error(f"--max-images {args.max_images}: expected 0 (all val images) or a positive count")
    return args


def detect_epochs(run_dir, out, max_images=None, log=print):
    """Write ``{out}/epoch_{N}.bbox.json`` for every epoch checkpoint of the run, replacing ``out`` as a whole.

    Returns:
        list[int]: the epochs detected.
    """
    manifest = checked_manifest(run_dir, epochs=True)
    from mmengine.config import Config

    cfg = Config.fromfile(osp.join(run_dir, run_record.CONFIG_FILE))
    checkpoints = manifest["epoch_checkpoints"]
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{osp.basename(osp.abspath(out))}.tmp-", dir=parent)
    try:
        scratch = osp.join(manifest["work_dir"], "eval_epochs")
        shutil.rmtree(scratch, ignore_errors=True)
        images = f"the first {max_images} val images" if max_images else "all val images"
        start = time.time()
        for i, (epoch, dets) in enumerate(inference.detect(cfg, checkpoints, scratch, max_images), start=1):
            atomic_copy(dets, osp.join(tmp, run_record.epoch_detections_name(epoch)))
            log(
                f"{run_dir}: epoch {epoch} ({i}/{len(checkpoints)}) detected on {images}, "
                f"{time.time() - start:.1f} s so far"
            )
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return list(checkpoints)


def main(argv=None) -> None:
    args = parse_args(argv)
    orphan_guard.install()  # the job ends with the pipeline that started it
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        detect_epochs(args.run_dir, args.out, args.max_images, log=_log)
    except run_record.RunRecordError as e:
        sys.exit(f"{PROG}: error: {e}")


def _log(message):
    print(f"[dynrcnn.tools.detect_epochs] {message}", flush=True)


if __name__ == "__main__":
    main()
