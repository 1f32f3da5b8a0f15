"""Check a dataset root before any training: its layout and its annotation files' contents.

The pipeline's ``check_dataset`` rule runs it on the COCO root, and every training depends on its output, so a
wrong file fails once, before any training starts; Snakemake's timestamps decide when to check again (a changed
annotation file). COCO 2017's ``instances_train2017.json`` is ~450 MB, which is why this is a job and not part of
building the DAG.

    python -m dynrcnn.data.check_dataset --root data/coco --dataset coco --out results/data/coco.checked

Checks: the annotation files and image folders exist; each annotation file is a JSON object with ``images``,
``annotations`` and ``categories`` lists; for COCO, the categories are COCO's 80 (by name, in any id order); every
image has a positive width and height; every annotation's box (:func:`check_boxes`).

Boxes follow MMDetection's ``CocoDataset.parse_data_info`` (mmdet/datasets/coco.py, MMDetection 3.3), which the
training uses: it drops an annotation marked ``ignore``, one whose box does not overlap its image, one with
``area <= 0`` or a width or height below 1 pixel, and one of an unknown category; it keeps an ``iscrowd`` one as an
ignored region. The check

* **skips**, as MMDetection does, and counts (the log and ``--out`` give the number and the first ids): annotations
  marked ``ignore``, and *degenerate* boxes: width or height in [0, 1) pixel, or area 0. COCO 2017 has a few (two
  training boxes of height 0, and boxes under a pixel); they are not errors;
* **counts** ``iscrowd`` annotations: ignored regions in training, as in MMDetection and COCOeval;
* **rejects** (one error line naming the file, the first bad annotation's id and the fix) what MMDetection would
  silently drop or turn into NaN losses and only a broken file holds: a ``bbox`` that is not four numbers, a
  number that is not finite (NaN, infinity) in ``bbox`` or ``area``, a negative width, height or area, an unknown
  ``category_id`` or ``image_id``, and a box reaching beyond its image's border by more than
  :data:`BORDER_TOLERANCE_PX` pixels or :data:`BORDER_TOLERANCE` of the image side, whichever is larger (COCO's
  boxes lie inside their images; a box far outside is a file of other images or of x1,y1,x2,y2 boxes).

The synthetic dataset generator (:mod:`dynrcnn.data.synthetic`) checks its annotations with :func:`check_boxes`
before the dataset is complete, and skips none.

``--out`` (a small JSON record of the checked files, their box counts and their SHA-256) is written only when
everything passes; a problem is one line on stderr and exit status 1. The ``synthetic_data`` rule writes the
synthetic dataset's ``.ready`` marker this way (with the generator's parameters), and the pipeline compares the
annotation files' SHA-256 with it each time it builds the DAG: a file changed since it was checked is checked again
(:func:`recheck_changed`), so an edited box fails before any training.
"""

import argparse
import json
import math
import os
import sys

from dynrcnn.fileio import atomic_write_json
from dynrcnn.run_record import DATASET_LAYOUTS, DATASETS
from dynrcnn.tools import orphan_guard

FIX = (
    "dataset.root must hold COCO 2017's own annotations/instances_{train,val}2017.json (80 categories); point "
    "dataset.root at the COCO 2017 root or restore the file"
)


#: The fix of a bad box, by dataset.
BOX_FIX = {
    "coco": "Correct or remove that annotation, or restore COCO 2017's own file (the rules: "
    "dynrcnn/data/check_dataset.py)",
    "synthetic": "Delete the dataset folder and its .ready marker next to it to generate it again",
}
#: How far a box may reach beyond its image's border: this many pixels or this fraction of the image's side,
#: whichever is larger (rounding of the annotation tools).
BORDER_TOLERANCE_PX = 1.0
BORDER_TOLERANCE = 0.01
#: How many skipped annotations' ids the log and the record name.
SHOWN_IDS = 10


#: The key of a check record (``--out``, the synthetic ``.ready`` marker) holding {annotation file: SHA-256}.
HASHES_KEY = "annotations_sha256"


class DatasetCheckError(ValueError):
    """A dataset root that fails the check; the message names the file and the fix."""


class BoxError(ValueError):
    """A bad annotation or image entry; the message starts with the annotation's (or image's) id."""


def coco_classes():
    """COCO's 80 category names (MMDetection's)."""
    from mmdet.datasets import CocoDataset

    return list(CocoDataset.METAINFO["classes"])


def _load(path):
    """The JSON of an annotation file and None, or None and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f), None
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        return None, f"not a readable JSON file ({type(e).__name__}: {e})"


def annotation_problem(path, classes=None):
    """What is wrong with a COCO-format annotation file's structure (None if nothing): a JSON object, the three
    lists, and when ``classes`` is given, exactly those category names (in any id order). Boxes are checked by
    :func:`check_boxes`."""
    data, problem = _load(path)
    return problem or structure_problem(data, classes)


def structure_problem(data, classes=None):
    """:func:`annotation_problem` of an annotation file's JSON."""
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


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _image_sizes(images):
    """{image id: (width, height)} of a COCO file's images, their sizes checked."""
    sizes = {}
    for i, image in enumerate(images):
        if not isinstance(image, dict) or "id" not in image:
            raise BoxError(f"images[{i}] is not an object with an 'id'")
        width, height = image.get("width"), image.get("height")
        if not all(_number(v) and math.isfinite(v) and v > 0 for v in (width, height)):
            raise BoxError(f"image id {image['id']}: width {width!r} and height {height!r} must be positive numbers")
        sizes[image["id"]] = (width, height)
    return sizes


def _skip(counts, ann):
    counts["skipped"] += 1
    if len(counts["skipped_ids"]) < SHOWN_IDS:
        counts["skipped_ids"].append(ann.get("id"))


def check_boxes(data):
    """Check the boxes of a COCO-format annotation file's JSON the way the module docstring says.

    Args:
        data (dict): the file's JSON, with ``images``, ``annotations`` and ``categories`` lists.

    Returns:
        dict: ``annotations`` (all), ``boxes`` (trained on), ``crowd`` (ignored regions), ``skipped`` (dropped as
        MMDetection drops them: marked ``ignore``, or degenerate) and ``skipped_ids`` (the first
        :data:`SHOWN_IDS` of those).

    Raises:
        BoxError: the first bad annotation; the message starts with its id (``annotation id 17 (image 3): ...``).
    """
    sizes = _image_sizes(data["images"])
    categories = {c.get("id") for c in data["categories"] if isinstance(c, dict)}
    counts = dict(annotations=len(data["annotations"]), boxes=0, crowd=0, skipped=0, skipped_ids=[])
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise BoxError(f"annotations[{i}] is not an object")
        where = f"annotation id {ann.get('id', f'? (annotations[{i}])')} (image {ann.get('image_id')})"
        if ann.get("ignore", False):
            _skip(counts, ann)
            continue
        bbox, area = ann.get("bbox"), ann.get("area")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(_number, bbox))):
            raise BoxError(f"{where}: bbox {bbox!r} is not four numbers [x, y, width, height]")
        if not _number(area):
            raise BoxError(f"{where}: area {area!r} is not a number")
        if not all(math.isfinite(v) for v in (*bbox, area)):
            raise BoxError(f"{where}: bbox {bbox} or area {area} is not finite")
        x, y, w, h = bbox
        if w < 0 or h < 0 or area < 0:
            raise BoxError(
                f"{where}: negative width, height or area (bbox {bbox}, area {area}; a COCO bbox is "
                "[x, y, width, height])"
            )
        if ann.get("category_id") not in categories:
            raise BoxError(f"{where}: category_id {ann.get('category_id')!r} is not one of the file's categories")
        if ann.get("image_id") not in sizes:
            raise BoxError(f"{where}: image_id {ann.get('image_id')!r} is not one of the file's images")
        if w < 1 or h < 1 or area == 0:  # degenerate: MMDetection skips it
            _skip(counts, ann)
            continue
        width, height = sizes[ann["image_id"]]
        tol_x, tol_y = (max(BORDER_TOLERANCE_PX, BORDER_TOLERANCE * side) for side in (width, height))
        if x < -tol_x or y < -tol_y or x + w > width + tol_x or y + h > height + tol_y:
            raise BoxError(
                f"{where}: bbox {bbox} reaches beyond its {width}x{height} image by more than {tol_x:g} x {tol_y:g} "
                "pixels (the tolerance)"
            )
        counts["crowd" if ann.get("iscrowd", False) else "boxes"] += 1
    return counts


def box_summary(counts):
    """One line of a file's box counts (:func:`check_boxes`)."""
    line = f"{counts['boxes']} boxes, {counts['crowd']} crowd regions (ignored in training)"
    if counts["skipped"]:
        more = ", ..." if counts["skipped"] > len(counts["skipped_ids"]) else ""
        line += (
            f", {counts['skipped']} annotations skipped as MMDetection skips them (marked ignore, or width or "
            f"height under 1 pixel or area 0: ids {', '.join(map(str, counts['skipped_ids']))}{more})"
        )
    return line


def check(root, dataset="coco", counts=None):
    """Check a dataset root.

    Args:
        root (str): the dataset root.
        dataset (str): its layout (``coco`` or ``synthetic``).
        counts (dict | None): filled with each annotation file's box counts (:func:`check_boxes`) by path.

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
        data, problem = _load(path)
        problem = problem or structure_problem(data, classes)
        if problem:
            raise DatasetCheckError(f"{path}: {problem}. {FIX if dataset == 'coco' else 'Restore the file'}")
        try:
            found = check_boxes(data)
        except BoxError as e:
            raise DatasetCheckError(f"{path}: {e}. {BOX_FIX[dataset]}") from None
        if counts is not None:
            counts[path] = found
        checked[path] = [stat.st_size, stat.st_mtime_ns]
    return checked


def annotation_files(dataset):
    """The train and val annotation files of a layout, relative to its root."""
    layout = DATASET_LAYOUTS[dataset]
    return [layout["train"][0], layout["val"][0]]


def annotation_hashes(root, dataset):
    """``{annotation file (relative to root): SHA-256}`` of a dataset root's train and val annotation files (None
    for a missing one)."""
    from dynrcnn.provenance import sha256_file

    hashes = {}
    for rel in annotation_files(dataset):
        path = os.path.join(root, rel)
        hashes[rel] = sha256_file(path) if os.path.isfile(path) else None
    return hashes


def recheck_changed(root, dataset, record_path):
    """Check again the annotation files of ``root`` whose SHA-256 differs from the one the check record
    ``record_path`` holds (every file when it holds none: a record of an older version).

    Args:
        root (str): the dataset root.
        dataset (str): its layout.
        record_path (str): a check record (``--out`` of :func:`main`; the synthetic dataset's ``.ready`` marker).

    Returns:
        list[str]: the changed files (relative to ``root``); they passed the check.

    Raises:
        DatasetCheckError: a changed file fails it; one line naming the file, the annotation and the fix.
    """
    try:
        with open(record_path, encoding="utf-8") as f:
            recorded = json.load(f).get(HASHES_KEY) or {}
    except (OSError, ValueError, AttributeError):
        recorded = {}
    changed = [rel for rel, sha in annotation_hashes(root, dataset).items() if recorded.get(rel) != sha]
    for rel in changed:
        path = os.path.join(root, rel)
        data, problem = _load(path)
        problem = problem or structure_problem(data)
        try:
            if not problem:
                check_boxes(data)
        except BoxError as e:
            problem = str(e)
        if problem:
            since = "changed since the dataset was checked" if recorded else "not recorded in the dataset's check"
            raise DatasetCheckError(
                f"{path} ({since}: its SHA-256 differs from {record_path}'s) fails the check: {problem}. "
                f"{BOX_FIX[dataset]}"
            )
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="the dataset root")
    parser.add_argument("--dataset", choices=DATASETS, default="coco", help="its layout (default: coco)")
    parser.add_argument("--out", required=True, help="written (JSON) only when the check passes")
    args = parser.parse_args(argv)
    orphan_guard.install()
    if os.path.exists(args.out):  # a verdict on an earlier version of the files
        os.unlink(args.out)
    counts = {}
    try:
        checked = check(args.root, args.dataset, counts)
    except DatasetCheckError as e:
        print(e, file=sys.stderr)
        return 1
    for path, found in counts.items():
        print(f"{path}: {box_summary(found)}")
    record = dict(root=os.path.abspath(args.root), dataset=args.dataset, passed=checked, boxes=counts)
    record[HASHES_KEY] = annotation_hashes(args.root, args.dataset)
    generator = os.path.join(args.root, ".complete")  # a synthetic dataset's parameters (what .ready held before)
    if args.dataset == "synthetic" and os.path.isfile(generator):
        with open(generator, encoding="utf-8") as f:
            record["generator"] = json.load(f)
    atomic_write_json(args.out, record)
    print(f"{args.root}: {args.dataset} dataset checked ({args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
