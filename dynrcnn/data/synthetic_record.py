"""The synthetic dataset's folder as a record: its parameters, its completion marker and the one check of whether
a folder can be (re)used for a generation (standard library only).

The generator (:mod:`dynrcnn.data.synthetic`, numpy, OpenCV and PIL) writes the dataset; the pipeline checks a
configured ``dataset.root`` with :func:`folder_state` while Snakemake builds its DAG, without importing the generator.
The files below the root are :func:`dynrcnn.run_record.layout_files` of the ``synthetic`` layout.
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import asdict, dataclass
from pathlib import Path

#: Version of the generator's output, recorded in the marker: a dataset of another version is not reused.
FORMAT_VERSION = 1
#: The marker file in a complete dataset root (JSON: the generation parameters, :meth:`SyntheticConfig.to_dict`).
COMPLETE_MARKER = ".complete"
MARGIN = 1  # px kept free at the image border so every box lies inside the image


class SyntheticDatasetError(ValueError):
    """Bad input to the synthetic dataset generator (the message names the fix)."""


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the synthetic dataset (recorded in the annotation files' ``info``).

    Args:
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        image_size (int): Side of the square images in pixels.
        seed (int): Seed of the random generator.
        min_objects (int): Fewest annotated objects per image.
        max_objects (int): Most annotated objects per image.
        min_object_size (int): Smallest box side in pixels.
        size_probs (tuple[float]): Probabilities of drawing a small / medium /
            large object (COCO's area ranges); classes that do not fit into the
            image are dropped and the others renormalised.
        max_occlusion (float): Largest fraction of an object that later objects
            may cover.
        clutter (int): Mean number of unannotated distractors (lines, dots,
            arcs, blotches) per image.
        noise_std (float): Standard deviation of the Gaussian pixel noise (0-255).
        blur (float): Radius of the Gaussian blur that softens the edges.
    """

    num_train: int = 600
    num_val: int = 300
    image_size: int = 128
    seed: int = 0
    min_objects: int = 2
    max_objects: int = 6
    min_object_size: int = 16
    size_probs: tuple[float, float, float] = (0.2, 0.45, 0.35)
    max_occlusion: float = 0.4
    clutter: int = 6
    noise_std: float = 10.0
    blur: float = 0.6

    def validate(self) -> None:
        """Raise :class:`SyntheticDatasetError` naming the bad field and the fix."""
        for name in ("num_train", "num_val"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value <= 0:
                raise SyntheticDatasetError(
                    f"{name} must be a positive integer, got {value!r}; pass --{name.replace('_', '-')} N with N >= 1"
                )
        if self.min_object_size < 1:
            raise SyntheticDatasetError(f"min_object_size must be >= 1 pixel, got {self.min_object_size}")
        needed = self.min_object_size + 2 * MARGIN
        if self.image_size < needed:
            raise SyntheticDatasetError(
                f"image_size {self.image_size} is too small for the smallest object "
                f"(min_object_size {self.min_object_size} plus a {MARGIN}-px margin on each side); "
                f"use --image-size >= {needed} (the default is {SyntheticConfig.image_size})"
            )
        if not 1 <= self.min_objects <= self.max_objects:
            raise SyntheticDatasetError(
                f"need 1 <= min_objects <= max_objects, got {self.min_objects} and {self.max_objects}"
            )
        if len(self.size_probs) != 3 or min(self.size_probs) < 0 or sum(self.size_probs) <= 0:
            raise SyntheticDatasetError(
                f"size_probs must be three non-negative weights (small, medium, large), got {self.size_probs!r}"
            )
        if not 0.0 <= self.max_occlusion < 1.0:
            raise SyntheticDatasetError(f"max_occlusion must be in [0, 1), got {self.max_occlusion}")
        if self.clutter < 0 or self.noise_std < 0 or self.blur < 0:
            raise SyntheticDatasetError("clutter, noise_std and blur must be >= 0")

    def to_dict(self) -> dict:
        """Return the parameters as a JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        out["size_probs"] = list(self.size_probs)
        out["format_version"] = FORMAT_VERSION
        return out


def read_marker(root: os.PathLike) -> dict | None:
    """Return the parameters recorded in ``ROOT/.complete``, or None if ROOT is not complete."""
    marker = Path(root) / COMPLETE_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def folder_state(root: os.PathLike, wanted: dict) -> tuple[str, list[str]]:
    """What a folder is to a generation of the parameters ``wanted`` (:meth:`SyntheticConfig.to_dict`).

    Returns:
        tuple[str, list[str]]: the state and, for ``"other"``, the parameters that differ:

        * ``"new"``: missing or empty, the generator writes it;
        * ``"same"``: a complete dataset of these parameters, reused as it is;
        * ``"file"``: not a folder;
        * ``"foreign"``: a non-empty folder that is no complete synthetic dataset (no marker);
        * ``"other"``: a complete dataset of other parameters.

        Nothing but ``"new"`` and ``"same"`` may be written to or used: the fix (another root, or deleting the folder)
        is the user's.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        return "file", []
    if not (root.is_dir() and any(root.iterdir())):
        return "new", []
    recorded = read_marker(root)
    if recorded is None:
        return "foreign", []
    differing = [key for key in wanted if recorded.get(key) != wanted[key]]
    differing += [key for key in recorded if key not in wanted]
    return ("same", []) if not differing else ("other", differing)
