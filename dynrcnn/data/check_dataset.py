"""Check a dataset root before any training: its layout and its annotation files' contents.

The pipeline's ``check_dataset`` rule runs it on the COCO root, and every training depends on its output, so a
wrong file fails once, before any training starts; Snakemake's timestamps decide when to check again (a changed
annotation file). COCO 2017's ``instances_train2017.json`` is ~450 MB, which is why this is a job and not part of
building the DAG.

    python -m dynrcnn.data.check_dataset --root data/coco --dataset coco --out results/data/coco.checked

Checks: the annotation files and image folders exist; each annotation file is a JSON object with ``images``,
``annotations`` and ``categories`` lists; for COCO, the categories are COCO's 80 (by name, in any id order).
``--out`` (a small JSON record of the checked files) is written only when everything passes; a problem is one line
on stderr and exit status 1.
"""

import argparse
import json
import os
import sys

from dynrcnn.fileio import atomic_write_json
from dynrcnn.run_record import DATASET_LAYOUTS, DATASETS

FIX = (
    "dataset.root must hold COCO 2017's own annotations/instances_{train,val}2017.json (80 categories); point "
    "dataset.root at the COCO 2017 root or restore the file"
)


class DatasetCheckError(ValueError):
    """A dataset root that fails the check; the message names the file and the fix."""


def coco_classes():
    """COCO's 80 category names (MMDetection's)."""
    from mmdet.datasets import CocoDataset

    return list(CocoDataset.METAINFO["classes"])


def annotation_problem(path, classes=None):
    """What is wrong with a COCO-format annotation file (None if nothing): a JSON object, the three lists, and
    when ``classes`` is given, exactly those category names (in any id order)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        return f"not a readable JSON file ({type(e).__name__}: {e})"
    if not isinstance(data, dict):
        return f"not a JSON object (a {type(data).__name__})"
    missing = [key for key in ("images", "annotations", "categories") if not isinstance(data.get(key), list)]
    if missing:
        return f"no {' / '.join(repr(k) for k in missing)} list (a COCO file has 'images', 'annotations', 'categories')"
    if classes is None:
        return None
    names = [c.get("name") if isinstance(c, dict) else c for c in data["categories"]]
    if len(names) == len(classes) and set(names) == set(classes):
        return None
    unexpected = [n for n in names if n not in classes]
    absent = [n for n in classes if n not in names]
    details = [
        f"{label} {', '.join(map(repr, found[:3]))}{', ...' if len(found) > 3 else ''}"
        for label, found in (("unexpected", unexpected), ("missing", absent))
        if found
    ]
    return f"{len(names)} categories, not COCO's {len(classes)} ({'; '.join(details) or 'duplicate names'})"


def check(root, dataset="coco"):
    """Check a dataset root.

    Returns:
        dict: ``{path: [size, mtime_ns]}`` of the checked annotation files.

    Raises:
        DatasetCheckError: the first problem found.
    """
    layout = DATASET_LAYOUTS[dataset]
    annotations = [layout["train"][0], layout["val"][0]]
    names = annotations + [layout["train"][1].rstrip("/"), layout["val"][1].rstrip("/")]
    missing = [name for name in names if not os.path.exists(os.path.join(root, name))]
    if missing:
        raise DatasetCheckError(f"{root}: not a {dataset} root: missing {', '.join(missing)}")
    classes = coco_classes() if dataset == "coco" else None
    checked = {}
    for rel in annotations:
        path = os.path.abspath(os.path.join(root, rel))
        stat = os.stat(path)
        if stat.st_size > 10_000_000:
            print(f"Checking {path}", file=sys.stderr, flush=True)
        problem = annotation_problem(path, classes)
        if problem:
            raise DatasetCheckError(f"{path}: {problem}. {FIX if dataset == 'coco' else 'Restore the file'}")
        checked[path] = [stat.st_size, stat.st_mtime_ns]
    return checked


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the dataset root")
    parser.add_argument("--dataset", choices=DATASETS, default="coco", help="its layout (default: coco)")
    parser.add_argument("--out", required=True, help="written (JSON) only when the check passes")
    args = parser.parse_args(argv)
    if os.path.exists(args.out):  # a verdict on an earlier version of the files
        os.unlink(args.out)
    try:
        checked = check(args.root, args.dataset)
    except DatasetCheckError as e:
        print(e, file=sys.stderr)
        return 1
    atomic_write_json(args.out, dict(root=os.path.abspath(args.root), dataset=args.dataset, passed=checked))
    print(f"{args.root}: {args.dataset} dataset checked ({args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
