"""Embedded synthetic COCO-format detection dataset.

The generator draws coloured, textured shapes of five categories on cluttered,
noisy backgrounds, so that a small detector trained from scratch on a CPU
learns them in minutes while precise localisation still matters (soft edges,
partial occlusion, clutter and pixel noise keep AP75 well below AP50).

Layout written: the ``synthetic`` layout of :func:`dynrcnn.run_record.layout_files` (COCO's, PNG images with
``file_name`` relative to the split's image folder), plus ``ROOT/.complete``, the marker holding the generation
parameters (:mod:`dynrcnn.data.synthetic_record`, which also decides whether a folder is reused).

Atomicity: everything is written into a sibling folder ``ROOT.partial-XXXX``
which is renamed to ``ROOT`` only once complete (the ``.complete`` marker is
written before the rename), so ``ROOT`` never looks complete unless it is. On
any error (or Ctrl-C) the partial folder is removed; only a killed process can
leave a ``ROOT.partial-XXXX`` folder behind, which never passes for ``ROOT``.

Existing output: a missing or empty ``ROOT`` is (re)written; a ``ROOT`` that
already holds a complete dataset made with the same parameters is left as it is
(the call is a no-op, so reruns are cheap); any other non-empty ``ROOT`` is an
error (the generator never deletes data it did not write).

Boxes: ``bbox`` is the tight box of the whole (amodal) shape in COCO's
``[x, y, w, h]`` pixel-edge convention, exact multiples of 1/4 pixel (shapes are
rendered 4x supersampled); ``area`` is ``w * h`` so that COCO's small / medium /
large ranges apply to the boxes. Occluded objects keep at least
``1 - max_occlusion`` of their pixels visible. The boxes are checked before
the dataset is complete (:func:`dynrcnn.data.check_dataset.check_boxes`:
finite, positive size, inside the image, known category, and none that
MMDetection would skip).

Determinism: all randomness comes from one ``numpy.random.Generator`` seeded
with ``seed``; PNGs are written with fixed settings and no metadata and the
JSON with sorted keys, so the same parameters give byte-identical files (with
the same numpy / Pillow versions).

Command line::

    python -m dynrcnn.data.synthetic --out data/synthetic --num-train 600 \
        --num-val 300 --image-size 128 --seed 0

The defaults (:class:`~dynrcnn.data.synthetic_record.SyntheticConfig`) are the embedded default's dataset: enough
val images that the val split's own sampling noise stays small next to the seed-to-seed spread, and objects large
enough (a minimum side, a minority of COCO's small ones) that the default schedule learns them; what the defaults
reach is measured in README ("The pipeline") and ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from dynrcnn.run_record import layout_files
from dynrcnn.tools import orphan_guard

from .synthetic_record import (  # noqa: F401  (the parameters and the marker: re-exported)
    COMPLETE_MARKER,
    FORMAT_VERSION,
    MARGIN,
    SyntheticConfig,
    SyntheticDatasetError,
    folder_state,
    read_marker,
)

SUPERSAMPLE = 4  # shapes are drawn at 4x and box coordinates are multiples of 1/4 px

CATEGORIES = ("rectangle", "ellipse", "triangle", "ring", "cross")
# Each category has its own hue (with jitter) and texture, so appearance and
# shape both carry the class, as in natural images.
_CATEGORY_HUE = {"rectangle": 0.0, "ellipse": 0.33, "triangle": 0.6, "ring": 0.13, "cross": 0.8}
_CATEGORY_TEXTURE = {
    "rectangle": "solid",
    "ellipse": "radial",
    "triangle": "stripes",
    "ring": "solid",
    "cross": "checker",
}

# COCO's area ranges are [0, 32^2], [32^2, 96^2], [96^2, inf] with inclusive ends;
# sampled areas keep a margin from the boundaries so every object is unambiguous.
SIZE_CLASSES = ("small", "medium", "large")
_AREA_RANGES = {"small": (None, 0.95 * 32**2), "medium": (1.06 * 32**2, 0.95 * 96**2), "large": (1.05 * 96**2, None)}
_MAX_ASPECT = 2.0  # w / h in [1/2, 2]
_MARGIN = MARGIN


# --------------------------------------------------------------------------- sizes
def _side_limits(cfg: SyntheticConfig) -> tuple[int, int]:
    return cfg.min_object_size, cfg.image_size - 2 * _MARGIN


def _feasible_size_classes(cfg: SyntheticConfig) -> dict[str, float]:
    """Size classes whose area range fits into the image, with renormalised weights."""
    lo_side, hi_side = _side_limits(cfg)
    probs = {}
    for name, p in zip(SIZE_CLASSES, cfg.size_probs):
        lo, hi = _AREA_RANGES[name]
        lo = max(lo or 0.0, lo_side**2)
        hi = min(hi or float("inf"), hi_side**2)
        if p > 0 and lo < hi:
            probs[name] = p
    total = sum(probs.values())
    if not probs:
        raise SyntheticDatasetError(
            f"no object size class fits into image_size {cfg.image_size} with min_object_size "
            f"{cfg.min_object_size}; raise --image-size or lower the size weights"
        )
    return {k: v / total for k, v in probs.items()}


def _sample_box_size(rng: np.random.Generator, size_class: str, cfg: SyntheticConfig) -> tuple[int, int]:
    """Width and height, in supersampled units, with the area in the class's range."""
    lo_side, hi_side = _side_limits(cfg)
    a_lo, a_hi = _AREA_RANGES[size_class]
    a_lo = max(a_lo or 0.0, lo_side**2)
    a_hi = min(a_hi or float("inf"), (0.92 * hi_side) ** 2)
    for _ in range(100):
        # log-uniform area and aspect ratio: sizes spread evenly over the range
        area = float(np.exp(rng.uniform(np.log(a_lo), np.log(max(a_hi, a_lo * 1.0001)))))
        aspect = float(np.exp(rng.uniform(-np.log(_MAX_ASPECT), np.log(_MAX_ASPECT))))
        w = int(round(np.sqrt(area * aspect) * SUPERSAMPLE))
        h = int(round(np.sqrt(area / aspect) * SUPERSAMPLE))
        real = w * h / SUPERSAMPLE**2
        if (
            lo_side * SUPERSAMPLE <= min(w, h)
            and max(w, h) <= hi_side * SUPERSAMPLE
            and (_AREA_RANGES[size_class][0] is None or real >= _AREA_RANGES[size_class][0])
            and (_AREA_RANGES[size_class][1] is None or real <= _AREA_RANGES[size_class][1])
        ):
            return w, h
    # square fallback at the range's geometric centre (always valid)
    side = int(np.sqrt(a_lo * min(a_hi, 4 * a_lo)) ** 0.5 * SUPERSAMPLE)
    return side, side


# ----------------------------------------------------------------------- drawing
def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32) * 255.0


def _draw_shape(rng: np.random.Generator, category: str, w: int, h: int) -> Image.Image:
    """Supersampled mask (``w`` x ``h``, mode ``L``) of a shape that touches all four box edges."""
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    x1, y1 = w - 1, h - 1
    if category == "rectangle":
        draw.rectangle([0, 0, x1, y1], fill=255)
    elif category == "ellipse":
        draw.ellipse([0, 0, x1, y1], fill=255)
    elif category == "triangle":
        # apex on one side, base on the opposite one
        direction = int(rng.integers(4))
        pts = [
            [(x1 / 2, 0), (0, y1), (x1, y1)],
            [(x1 / 2, y1), (0, 0), (x1, 0)],
            [(0, y1 / 2), (x1, 0), (x1, y1)],
            [(x1, y1 / 2), (0, 0), (0, y1)],
        ][direction]
        draw.polygon(pts, fill=255)
    elif category == "ring":
        draw.ellipse([0, 0, x1, y1], fill=255)
        t = float(rng.uniform(0.18, 0.3))
        draw.ellipse([t * w, t * h, x1 - t * w, y1 - t * h], fill=0)
    elif category == "cross":
        t = float(rng.uniform(0.28, 0.4))
        draw.rectangle([0, (0.5 - t / 2) * h, x1, (0.5 + t / 2) * h], fill=255)
        draw.rectangle([(0.5 - t / 2) * w, 0, (0.5 + t / 2) * w, y1], fill=255)
    else:  # pragma: no cover - CATEGORIES is closed
        raise KeyError(category)
    return canvas


def _texture(rng: np.random.Generator, category: str, hh: int, ww: int) -> np.ndarray:
    """Colour image (hh, ww, 3) of the object's appearance."""
    hue = (_CATEGORY_HUE[category] + rng.uniform(-0.06, 0.06)) % 1.0
    base = _hsv_to_rgb(hue, rng.uniform(0.45, 0.95), rng.uniform(0.45, 1.0))
    second = _hsv_to_rgb((hue + rng.uniform(0.08, 0.2)) % 1.0, rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.7))
    yy, xx = np.mgrid[0:hh, 0:ww].astype(np.float32)
    kind = _CATEGORY_TEXTURE[category]
    if kind == "solid":
        mix = np.zeros((hh, ww), np.float32)
    elif kind == "radial":
        r = np.hypot((xx + 0.5) / ww - 0.5, (yy + 0.5) / hh - 0.5) * 2.0
        mix = np.clip(r, 0, 1) ** 1.5
    elif kind == "stripes":
        period = rng.uniform(3.0, 7.0)
        angle = rng.uniform(0, np.pi)
        mix = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0
        mix = mix.astype(np.float32) * 0.7
    else:  # checker
        cell = int(rng.integers(2, 5))
        mix = (((xx // cell) + (yy // cell)) % 2).astype(np.float32) * 0.6
    return base[None, None] * (1 - mix[..., None]) + second[None, None] * mix[..., None]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth two-colour gradient plus low-frequency blotches."""
    c0 = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.5), rng.uniform(0.25, 0.85))
    c1 = _hsv_to_rgb(rng.uniform(), rng.uniform(0.0, 0.5), rng.uniform(0.25, 0.85))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    # low-resolution noise upsampled: blotchy texture of the "scene"
    coarse = rng.normal(0, 18, size=(6, 6, 3)).astype(np.float32)
    img += cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return img


def _draw_clutter(rng: np.random.Generator, img: np.ndarray, cfg: SyntheticConfig) -> None:
    """Unannotated distractors: thin lines, arcs, dots smaller than any object, soft blotches."""
    size = cfg.image_size
    n = int(rng.poisson(cfg.clutter)) if cfg.clutter else 0
    if not n:
        return
    layer = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE), 0)
    colors = []
    masks = []
    for _ in range(n):
        layer.paste(0, (0, 0, layer.width, layer.height))
        draw = ImageDraw.Draw(layer)
        kind = int(rng.integers(4))
        pts = rng.uniform(0, size * SUPERSAMPLE, size=4)
        if kind == 0:
            draw.line(list(pts), fill=255, width=int(rng.integers(2, 2 * SUPERSAMPLE)))
        elif kind == 1:
            x0, y0 = pts[:2]
            r = rng.uniform(4, 0.3 * size) * SUPERSAMPLE
            a0 = float(rng.uniform(0, 360))
            draw.arc(
                [x0 - r, y0 - r, x0 + r, y0 + r],
                a0,
                a0 + float(rng.uniform(40, 160)),
                fill=255,
                width=int(rng.integers(2, 2 * SUPERSAMPLE)),
            )
        elif kind == 2:
            r = rng.uniform(0.5, max(0.6, cfg.min_object_size / 3)) * SUPERSAMPLE
            x0, y0 = pts[:2]
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=255)
        else:
            # large, faint, blurred blotch: not an object because it has no sharp outline
            r = rng.uniform(0.1, 0.3) * size * SUPERSAMPLE
            x0, y0 = pts[:2]
            draw.ellipse([x0 - r, y0 - 0.6 * r, x0 + r, y0 + 0.6 * r], fill=90)
        mask = np.asarray(layer.resize((size, size), Image.BOX), dtype=np.float32) / 255.0
        if kind == 3:
            mask = cv2.GaussianBlur(mask, (0, 0), size / 16)
        masks.append(mask)
        colors.append(_hsv_to_rgb(rng.uniform(), rng.uniform(0, 1), rng.uniform(0.1, 1)))
    for mask, color in zip(masks, colors):
        img *= 1 - mask[..., None]
        img += mask[..., None] * color[None, None]


def _render_image(
    rng: np.random.Generator, cfg: SyntheticConfig, size_probs: dict[str, float]
) -> tuple[np.ndarray, list[dict]]:
    """One image (uint8 HxWx3) and its objects (category, bbox in px)."""
    size = cfg.image_size
    img = _background(rng, size)
    _draw_clutter(rng, img, cfg)

    n_obj = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    classes = list(size_probs)
    probs = np.array([size_probs[c] for c in classes])
    sizes = [classes[int(rng.choice(len(classes), p=probs))] for _ in range(n_obj)]
    # large objects first, so that smaller ones lie on top and stay fully visible
    sizes.sort(key=SIZE_CLASSES.index, reverse=True)

    placed: list[dict] = []
    for size_class in sizes:
        category = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        w, h = _sample_box_size(rng, size_class, cfg)
        for _ in range(20):
            # top-left corner in supersampled units; the box stays _MARGIN px inside the image
            lo = _MARGIN * SUPERSAMPLE
            x0 = int(rng.integers(lo, (size - _MARGIN) * SUPERSAMPLE - w + 1))
            y0 = int(rng.integers(lo, (size - _MARGIN) * SUPERSAMPLE - h + 1))
            alpha = _place_alpha(rng, category, x0, y0, w, h, size)
            cover = alpha > 0.5
            ok = all((obj["visible"] & ~cover).sum() >= (1 - cfg.max_occlusion) * obj["pixels"] for obj in placed)
            if ok and cover.any():
                break
        else:
            continue  # no placement with acceptable occlusion: drop the object
        for obj in placed:
            obj["visible"] &= ~cover
        # texture in the object's own frame (a radial gradient is centred on the object)
        px, py = x0 // SUPERSAMPLE, y0 // SUPERSAMPLE
        qx, qy = -(-(x0 + w) // SUPERSAMPLE), -(-(y0 + h) // SUPERSAMPLE)
        tex = _texture(rng, category, qy - py, qx - px)
        a = alpha[py:qy, px:qx, None]
        img[py:qy, px:qx] = img[py:qy, px:qx] * (1 - a) + tex * a
        placed.append(
            dict(
                category=category,
                visible=cover.copy(),
                pixels=int(cover.sum()),
                bbox=[x0 / SUPERSAMPLE, y0 / SUPERSAMPLE, w / SUPERSAMPLE, h / SUPERSAMPLE],
            )
        )

    # a few thin foreground lines cross the objects (occluders that are not objects)
    fg = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(fg)
    for _ in range(int(rng.poisson(cfg.clutter / 4))):
        draw.line(
            list(rng.uniform(0, size * SUPERSAMPLE, size=4)), fill=255, width=int(rng.integers(2, SUPERSAMPLE + 1))
        )
    line_alpha = np.asarray(fg.resize((size, size), Image.BOX), dtype=np.float32)[..., None] / 255.0
    line_color = _hsv_to_rgb(rng.uniform(), rng.uniform(0, 1), rng.uniform(0, 1))
    img = img * (1 - line_alpha) + line_color[None, None] * line_alpha

    if cfg.blur > 0:
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), cfg.blur)
    if cfg.noise_std > 0:
        img = img + rng.normal(0, cfg.noise_std, size=img.shape).astype(np.float32)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    objects = [dict(category=o["category"], bbox=o["bbox"]) for o in placed]
    return img, objects


def _place_alpha(rng: np.random.Generator, category: str, x0: int, y0: int, w: int, h: int, size: int) -> np.ndarray:
    """Full-image anti-aliased coverage of a shape whose box starts at (x0, y0) (supersampled units)."""
    # paste on a canvas aligned to the pixel grid, so the box is exact after downsampling
    ox, oy = x0 % SUPERSAMPLE, y0 % SUPERSAMPLE
    W = -(-(ox + w) // SUPERSAMPLE) * SUPERSAMPLE
    H = -(-(oy + h) // SUPERSAMPLE) * SUPERSAMPLE
    canvas = Image.new("L", (W, H), 0)
    canvas.paste(_draw_shape(rng, category, w, h), (ox, oy))
    small = np.asarray(canvas.resize((W // SUPERSAMPLE, H // SUPERSAMPLE), Image.BOX), dtype=np.float32) / 255.0
    alpha = np.zeros((size, size), np.float32)
    px, py = x0 // SUPERSAMPLE, y0 // SUPERSAMPLE
    alpha[py : py + small.shape[0], px : px + small.shape[1]] = small
    return alpha


# ------------------------------------------------------------------------ dataset
def _coco_split(
    rng: np.random.Generator, cfg: SyntheticConfig, split: str, num: int, img_dir: Path, size_probs: dict[str, float]
) -> dict:
    """Render ``num`` images into ``img_dir`` and return the split's COCO dict."""
    images, annotations = [], []
    cat_ids = {name: i + 1 for i, name in enumerate(CATEGORIES)}
    for image_id in range(1, num + 1):
        img, objects = _render_image(rng, cfg, size_probs)
        file_name = f"{image_id:06d}.png"
        # fixed PNG settings and no metadata: identical bytes for identical pixels
        Image.fromarray(img).save(img_dir / file_name, format="PNG", compress_level=6, optimize=False)
        images.append(dict(id=image_id, file_name=file_name, width=cfg.image_size, height=cfg.image_size))
        for obj in objects:
            x, y, w, h = obj["bbox"]
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=cat_ids[obj["category"]],
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=0,
                    # the box as a polygon, for tools that expect segmentation
                    segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
                )
            )
    return dict(
        info=dict(
            description=f"dynrcnn synthetic shapes, {split} split",
            version=str(FORMAT_VERSION),
            generator="dynrcnn.data.synthetic",
            split=split,
            parameters=cfg.to_dict(),
            size_class_weights=size_probs,
        ),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=[dict(id=cat_ids[n], name=n, supercategory="shape") for n in CATEGORIES],
    )


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, sort_keys=True, separators=(",", ":"))
        f.write("\n")


def _check_boxes(coco: dict, path: Path) -> None:
    """The boxes of a generated split, checked as the dataset check checks COCO's (dynrcnn.data.check_dataset), and
    none that MMDetection would skip: a bad one is a bug of this generator, and no dataset is written."""
    from dynrcnn.data.check_dataset import BoxError, check_boxes

    try:
        counts = check_boxes(coco)
    except BoxError as err:
        raise SyntheticDatasetError(
            f"{path}: {err}; the generator made a bad box (a bug of dynrcnn.data.synthetic, nothing was written): "
            "report it with the command line"
        ) from None
    if counts["skipped"]:
        raise SyntheticDatasetError(
            f"{path}: annotation ids {counts['skipped_ids']} are boxes MMDetection would skip (under 1 pixel); the "
            "generator made a degenerate box (a bug of dynrcnn.data.synthetic, nothing was written): report it"
        )


def _is_writable(path: Path) -> bool:
    return os.access(path, os.W_OK | os.X_OK)


def _check_output(out: Path, cfg: SyntheticConfig) -> bool:
    """Validate the output folder; return True if it already holds this exact dataset."""
    state, _ = folder_state(out, cfg.to_dict())
    if state == "same":
        return True
    if state == "file":
        raise SyntheticDatasetError(f"output {out} exists and is not a folder; choose another --out")
    if state != "new":
        raise SyntheticDatasetError(
            f"output folder {out} is not empty (and is not a complete synthetic dataset with the same "
            f"parameters); remove it or choose another --out"
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SyntheticDatasetError(f"cannot create the parent folder {parent} of --out: {err}") from err
    if not _is_writable(parent) or (out.is_dir() and not _is_writable(out)):
        raise SyntheticDatasetError(
            f"output folder {out} is not writable (its parent {parent} must be writable too); choose a writable --out"
        )
    return False


def generate(out: os.PathLike, cfg: SyntheticConfig | None = None, **kwargs) -> Path:
    """Write the synthetic dataset to ``out`` atomically.

    Args:
        out (str | Path): Dataset root to create (missing or empty).
        cfg (SyntheticConfig, optional): All parameters. Defaults to the
            defaults of :class:`SyntheticConfig` updated with ``kwargs``.
        **kwargs: Fields of :class:`SyntheticConfig` (only without ``cfg``).

    Returns:
        Path: The dataset root.

    Raises:
        SyntheticDatasetError: Bad parameters or output folder; nothing is left
            behind in that case.
    """
    if cfg is None:
        unknown = set(kwargs) - {f.name for f in fields(SyntheticConfig)}
        if unknown:
            raise SyntheticDatasetError(f"unknown synthetic dataset parameter(s): {sorted(unknown)}")
        cfg = SyntheticConfig(**kwargs)
    elif kwargs:
        raise SyntheticDatasetError("pass either cfg or keyword parameters, not both")
    cfg.validate()
    size_probs = _feasible_size_classes(cfg)
    out = Path(out).absolute()
    if _check_output(out, cfg):
        return out

    partial = Path(tempfile.mkdtemp(prefix=out.name + ".partial-", dir=out.parent))
    try:
        rng = np.random.default_rng(cfg.seed)
        train_ann, val_ann, train_images, val_images = layout_files("synthetic")
        for split, num, ann, images in (
            ("train", cfg.num_train, train_ann, train_images),
            ("val", cfg.num_val, val_ann, val_images),
        ):
            (partial / images).mkdir()
            coco = _coco_split(rng, cfg, split, num, partial / images, size_probs)
            _check_boxes(coco, out / ann)
            (partial / ann).parent.mkdir(exist_ok=True)
            _write_json(partial / ann, coco)
        # the marker goes in before the rename: ROOT appears complete in one atomic step
        _write_json(partial / COMPLETE_MARKER, cfg.to_dict())
        os.chmod(partial, 0o755)  # mkdtemp makes it 0700
        if out.is_dir():
            out.rmdir()  # empty (checked above); rename() cannot replace a folder on every OS
        os.rename(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults are those the ``synthetic`` config family is tuned for)."""
    d = SyntheticConfig()
    p = argparse.ArgumentParser(
        prog="python -m dynrcnn.data.synthetic",
        description="Write the synthetic COCO-format detection dataset (atomically; a complete dataset "
        "with the same parameters is left untouched).",
    )
    p.add_argument("--out", required=True, help="dataset root to create (missing or empty)")
    p.add_argument("--num-train", type=int, default=d.num_train)
    p.add_argument("--num-val", type=int, default=d.num_val)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--min-objects", type=int, default=d.min_objects)
    p.add_argument("--max-objects", type=int, default=d.max_objects)
    p.add_argument("--min-object-size", type=int, default=d.min_object_size)
    p.add_argument(
        "--size-probs", type=float, nargs=3, default=list(d.size_probs), metavar=("SMALL", "MEDIUM", "LARGE")
    )
    p.add_argument("--max-occlusion", type=float, default=d.max_occlusion)
    p.add_argument("--clutter", type=int, default=d.clutter)
    p.add_argument("--noise-std", type=float, default=d.noise_std)
    p.add_argument("--blur", type=float, default=d.blur)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m dynrcnn.data.synthetic``; exit code 2 on bad input."""
    args = parse_args(argv)
    orphan_guard.install()
    params = {k: v for k, v in vars(args).items() if k != "out"}
    params["size_probs"] = tuple(params["size_probs"])
    try:
        root = generate(args.out, SyntheticConfig(**params))
    except SyntheticDatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"synthetic dataset ready: {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
