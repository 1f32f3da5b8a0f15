"""Sample-detection figures: one validation image, each arm's highest-scoring boxes (rows) at saved checkpoints
(columns), each box labelled with its class and score, the ground truth drawn."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Rectangle

from ..outputs import NUM_SAMPLE_IMAGES
from ..runs import read_detections
from ..style import ARM_LABELS, ARMS, GT_COLOR, RC_PARAMS, arm_color
from .base import no_data, styled, title_suffix

MAX_EPOCH_COLUMNS = 4
MAX_BOXES = 8  # highest-scoring boxes drawn per panel, each labelled: more would cover the image
PANEL_INCHES = 2.0


class ReportInputError(Exception):
    """A non-run input of the report (validation annotations or images) is missing or corrupt."""


@dataclass
class ValSet:
    """Validation ground truth for the sample-detection figures.

    Args:
        images (dict[int, dict]): image id -> COCO image record (``file_name``, ``width``, ``height``).
        boxes (dict[int, list]): image id -> ground-truth boxes [x, y, w, h].
        image_dir (Path | None): folder of the images (None: draw on a blank canvas).
        categories (dict[int, str]): category id -> class name (a box of an unknown id is labelled with its id).
    """

    images: dict
    boxes: dict
    image_dir: Path = None
    categories: dict = field(default_factory=dict)

    def sample_ids(self, k=NUM_SAMPLE_IMAGES):
        """The fixed sample: the first ``k`` images with ground truth, in annotation-file order.

        File order is the dataset order of MMDetection's CocoDataset, so the sample lies within the
        first N images that per-epoch detection runs limited to N images cover.
        """
        return [i for i in self.images if self.boxes.get(i)][:k]

    def class_name(self, category_id):
        """The class name of a category id, or ``class {id}`` when the annotation file does not name it."""
        return self.categories.get(category_id, f"class {category_id}")


def load_val_set(ann_path, image_dir=None):
    """Read a COCO annotation file.

    Args:
        ann_path (str | Path): ``instances_val*.json``.
        image_dir (str | Path, optional): folder holding the images (``file_name`` is relative to it).

    Returns:
        ValSet
    """
    ann_path = Path(ann_path)
    try:
        data = json.loads(ann_path.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in data["images"]}
        boxes = {}
        for a in data["annotations"]:
            boxes.setdefault(int(a["image_id"]), []).append([float(v) for v in a["bbox"]])
        categories = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
    except FileNotFoundError:
        raise ReportInputError(
            f"--val-ann {ann_path}: missing; pass the COCO annotation file of the validation split"
        ) from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ReportInputError(f"--val-ann {ann_path}: not a COCO annotation file ({e!r})") from None
    if image_dir is not None and not Path(image_dir).is_dir():
        raise ReportInputError(f"--val-images {image_dir}: not a folder; pass the validation image folder")
    return ValSet(images, boxes, Path(image_dir) if image_dir is not None else None, categories)


def sample_epochs(by_arm, max_columns=MAX_EPOCH_COLUMNS):
    """The saved epochs shown as columns: all of them, or ``max_columns`` evenly spaced (first and last kept)."""
    epochs = sorted({e for rs in by_arm.values() if rs for e in min(rs, key=lambda r: r.seed).detections})
    if len(epochs) > max_columns:
        idx = np.unique(np.linspace(0, len(epochs) - 1, max_columns).round().astype(int))
        epochs = [epochs[i] for i in idx]
    return epochs


def load_sample_detections(by_arm, image_ids, epochs):
    """Detections of the sample images, from each arm's lowest seed, at the shown epochs.

    Returns:
        dict[(arm, epoch), dict[int, list[dict]]]: image id -> detections; missing epochs are absent.
    """
    out = {}
    ids = set(image_ids)
    for arm, rs in by_arm.items():
        if not rs:
            continue
        run = min(rs, key=lambda r: r.seed)
        for epoch in epochs:
            if epoch in run.detections:
                per_image = {}
                for d in read_detections(run.detections[epoch], run.name, ids):
                    per_image.setdefault(d["image_id"], []).append(d)
                out[(arm, epoch)] = per_image
    return out


def _image(val_set, image_id):
    info = val_set.images[image_id]
    if val_set.image_dir is None:
        return np.full((int(info.get("height", 1)), int(info.get("width", 1)), 3), 0.85)
    path = val_set.image_dir / info["file_name"]
    try:
        return imread(path)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise ReportInputError(
            f"--val-images: cannot read {path} ({e}); pass the folder of the validation images"
        ) from None


def _placeholder(val_set, image_id, arms, epochs):
    """A small figure that says why no sample detections are drawn."""
    fig = Figure(figsize=(5, 2), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    why = (
        "no ground truth given (pass --val-ann and --val-images)"
        if val_set is None
        else "the validation set has fewer annotated images than sample slots"
        if image_id is None
        else "no run of the default variant"
        if not arms
        else "no epoch detections (pass --epoch-detections folders holding epoch_{N}.bbox.json)"
    )
    no_data(ax, f"Sample detections not drawn: {why}.")
    return fig


def top_detections(detections, score_thr, max_boxes=MAX_BOXES):
    """The ``max_boxes`` highest-scoring detections with a score of at least ``score_thr``, highest first."""
    return sorted((d for d in detections if d["score"] >= score_thr), key=lambda d: -d["score"])[:max_boxes]


def _draw_panel(ax, img, gt, dets, color, val_set):
    """One image with its ground truth (dashed, on top) and detections labelled ``class score``."""
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="none")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    # One collection per box set (single patches are slow); the ground truth on top so that it stays visible.
    ax.add_collection(
        PatchCollection(
            gt, facecolor="none", edgecolor=GT_COLOR, linewidth=1.5, linestyle="--", label="ground truth", zorder=3
        )
    )
    if dets is None:
        no_data(ax, "not saved")
        return
    boxes = [Rectangle(d["bbox"][:2], *d["bbox"][2:]) for d in dets]
    ax.add_collection(PatchCollection(boxes, facecolor="none", edgecolor=color, linewidth=1.2, label="detections"))
    height, width = img.shape[:2]
    for d in dets:
        x, y = min(max(d["bbox"][0], 0), width - 1), min(max(d["bbox"][1], 0), height - 1)
        text = f"{val_set.class_name(d.get('category_id'))} {d['score']:.2f}"
        box = {"boxstyle": "square,pad=0.1", "facecolor": color, "edgecolor": "none", "alpha": 0.75}
        ax.text(x, y, text, fontsize=5, color="white", va="bottom", ha="left", clip_on=True, bbox=box)


@styled
def sample_detections_figure(by_arm, val_set, image_id, epochs, detections, dataset, score_thr=0.5):
    """One validation image: each arm's boxes (rows) at each saved checkpoint (columns), ground truth drawn.

    Args:
        by_arm (dict[str, list[Run]]): ``default``-variant runs per arm.
        val_set (ValSet | None): ground truth; None draws a placeholder saying what is missing.
        image_id (int | None): the image; None when the validation set has fewer sample images.
        epochs (list[int]): checkpoint epochs to show.
        detections (dict): from :func:`load_sample_detections`.
        dataset (str): ``synthetic`` or ``coco``.
        score_thr (float): minimum score of a drawn detection.

    Returns:
        Figure: per panel two box collections (``ground truth``, ``detections``) and one text per detection.
    """
    arms = [a for a in ARMS if by_arm.get(a)]
    if val_set is None or image_id is None or not arms or not epochs:
        return _placeholder(val_set, image_id, arms, epochs)
    img = _image(val_set, image_id)
    # Fixed margins instead of constrained layout: the grid is regular and this is the slowest figure.
    left, top = 0.5, 0.85
    width, height = PANEL_INCHES * len(epochs) + left + 0.1, PANEL_INCHES * len(arms) + top + 0.1
    fig = Figure(figsize=(width, height), dpi=RC_PARAMS["figure.dpi"])
    fig.subplots_adjust(
        left=left / width, right=1 - 0.1 / width, bottom=0.1 / height, top=1 - top / height, wspace=0.05, hspace=0.05
    )
    axes = fig.subplots(len(arms), len(epochs), squeeze=False)
    gt = [Rectangle((x, y), w, h) for x, y, w, h in val_set.boxes.get(image_id, [])]
    for i, arm in enumerate(arms):
        for j, epoch in enumerate(epochs):
            found = detections.get((arm, epoch))
            dets = None if found is None else top_detections(found.get(image_id, []), score_thr)
            _draw_panel(axes[i, j], img, gt, dets, arm_color(arm), val_set)
            if i == 0:
                axes[i, j].set_title(f"epoch {epoch}")
            if j == 0:
                axes[i, j].set_ylabel(ARM_LABELS[arm].replace(" (", "\n("), fontsize=7)
    name = val_set.images[image_id].get("file_name", image_id)
    seeds = ", ".join(f"{a} seed {min(r.seed for r in by_arm[a])}" for a in arms)
    fig.suptitle(
        f"Validation image {name} (id {image_id}){title_suffix(dataset)}\nground truth: dashed green; detections: "
        f"arm colour, labelled class and score, the {MAX_BOXES} highest with score ≥ {score_thr:g}\n{seeds}",
        fontsize=7,
    )
    return fig
