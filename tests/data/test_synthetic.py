"""Tests of the synthetic COCO-format dataset generator."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynrcnn.data import synthetic
from dynrcnn.data.synthetic import COMPLETE_MARKER, SyntheticConfig, SyntheticDatasetError, generate, main

REPO = Path(__file__).resolve().parents[2]


def _digest(root: Path) -> dict:
    """sha256 of every file under root, by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn") / "ds"
    generate(root, num_train=12, num_val=4, seed=3)
    return root


def test_layout_and_marker(small_dataset):
    root = small_dataset
    assert sorted(p.name for p in root.iterdir()) == sorted([COMPLETE_MARKER, "annotations", "train", "val"])
    assert len(list((root / "train").glob("*.png"))) == 12
    assert len(list((root / "val").glob("*.png"))) == 4
    marker = json.loads((root / COMPLETE_MARKER).read_text())
    assert marker["num_train"] == 12 and marker["seed"] == 3
    info = json.loads((root / "annotations/instances_train.json").read_text())["info"]
    assert info["parameters"] == marker
    # no partial folder is left next to the dataset
    assert [p.name for p in root.parent.iterdir()] == ["ds"]


def test_same_seed_byte_identical_other_seed_differs(tmp_path, small_dataset):
    again = generate(tmp_path / "again", num_train=12, num_val=4, seed=3)
    assert _digest(again) == _digest(small_dataset)
    other = generate(tmp_path / "other", num_train=12, num_val=4, seed=4)
    assert _digest(other)["train/000001.png"] != _digest(small_dataset)["train/000001.png"]


def test_boxes_valid_and_files_match(small_dataset):
    root = small_dataset
    for split in ("train", "val"):
        coco = json.loads((root / f"annotations/instances_{split}.json").read_text())
        images = {im["id"]: im for im in coco["images"]}
        cat_ids = {c["id"] for c in coco["categories"]}
        assert len(cat_ids) == len(synthetic.CATEGORIES) >= 3
        assert coco["annotations"], "every split has objects"
        for im in coco["images"]:
            with Image.open(root / split / im["file_name"]) as img:
                assert img.size == (im["width"], im["height"])
                assert img.mode == "RGB"
        for ann in coco["annotations"]:
            im = images[ann["image_id"]]
            x, y, w, h = ann["bbox"]
            assert w >= 1 and h >= 1
            assert x >= 0 and y >= 0 and x + w <= im["width"] and y + h <= im["height"]
            assert ann["area"] == pytest.approx(w * h)
            assert ann["category_id"] in cat_ids and ann["iscrowd"] == 0


def test_box_is_tight_around_the_drawn_shape():
    """A shape rendered on a blank canvas fills exactly its box (to the 1/4-px grid)."""
    rng = np.random.default_rng(0)
    for category in synthetic.CATEGORIES:
        x0, y0, w, h = 13 * 4 + 1, 7 * 4 + 3, 4 * 20 + 2, 4 * 11 + 1  # supersampled units
        alpha = synthetic._place_alpha(rng, category, x0, y0, w, h, 64)
        ys, xs = np.nonzero(alpha > 0)
        assert xs.min() == x0 // 4 and ys.min() == y0 // 4, category
        assert xs.max() == (x0 + w - 1) // 4 and ys.max() == (y0 + h - 1) // 4, category


def test_pycocotools_and_size_ranges_default_setting(tmp_path):
    """The default setting has >= 15% small, medium and large objects (COCO's area ranges)."""
    from pycocotools.coco import COCO

    root = generate(tmp_path / "ds", num_train=60, num_val=4, seed=0)
    coco = COCO(str(root / "annotations/instances_train.json"))
    assert len(coco.getImgIds()) == 60
    areas = np.array([a["area"] for a in coco.dataset["annotations"]])
    fractions = [(areas < 32**2).mean(), ((areas > 32**2) & (areas < 96**2)).mean(), (areas > 96**2).mean()]
    assert min(fractions) >= 0.15, fractions
    # no area exactly on a COCO boundary (it would count in two ranges)
    assert not np.isin(areas, [32**2, 96**2]).any()
    # every category occurs
    assert {a["category_id"] for a in coco.dataset["annotations"]} == set(coco.getCatIds())


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(num_train=0), "num_train"),
        (dict(num_val=-3), "num_val"),
        (dict(image_size=5, min_object_size=8), "image_size"),
        (dict(min_objects=4, max_objects=2), "min_objects"),
        (dict(max_occlusion=1.0), "max_occlusion"),
    ],
)
def test_bad_parameters_raise_and_write_nothing(tmp_path, kwargs, field):
    with pytest.raises(SyntheticDatasetError, match=field):
        generate(tmp_path / "ds", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_refused(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "mine.txt").write_text("keep me")
    with pytest.raises(SyntheticDatasetError, match="not empty"):
        generate(root, num_train=2, num_val=1)
    assert [p.name for p in root.iterdir()] == ["mine.txt"]


def test_complete_dataset_with_same_parameters_is_kept(tmp_path):
    root = generate(tmp_path / "ds", num_train=2, num_val=1)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    generate(root, num_train=2, num_val=1)  # no-op
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before
    with pytest.raises(SyntheticDatasetError, match="not empty"):
        generate(root, num_train=3, num_val=1)


def test_empty_output_folder_is_filled(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    generate(root, num_train=2, num_val=1)
    assert (root / COMPLETE_MARKER).is_file()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_non_writable_output_refused(tmp_path):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(SyntheticDatasetError, match="not writable"):
            generate(parent / "ds", num_train=2, num_val=1)
    finally:
        parent.chmod(0o755)


def test_non_writable_output_refused_as_root(tmp_path, monkeypatch):
    """Same check under root, where permissions are not enforced (the os.access call is faked)."""
    monkeypatch.setattr(synthetic, "_is_writable", lambda path: False)
    with pytest.raises(SyntheticDatasetError, match="not writable"):
        generate(tmp_path / "ds", num_train=2, num_val=1)
    assert list(tmp_path.iterdir()) == []


def test_failure_midway_leaves_no_partial_dataset(tmp_path, monkeypatch):
    calls = []
    real = synthetic._render_image

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "_render_image", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "ds", num_train=4, num_val=1)
    assert list(tmp_path.iterdir()) == []


def test_cli_exit_codes(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "ds"), "--num-train", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "num_train" in err and err.count("\n") == 1
    assert (
        main(["--out", str(tmp_path / "ds"), "--num-train", "2", "--num-val", "1", "--image-size", "64", "--seed", "5"])
        == 0
    )
    assert json.loads((tmp_path / "ds" / COMPLETE_MARKER).read_text())["image_size"] == 64


def test_module_entry_point(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dynrcnn.data.synthetic",
            "--out",
            str(tmp_path / "ds"),
            "--num-train",
            "1",
            "--num-val",
            "1",
            "--image-size",
            "4",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert "image_size 4 is too small" in proc.stderr
    assert not (tmp_path / "ds").exists()


def test_defaults_match_config_family():
    """The CLI defaults are the SyntheticConfig defaults the synthetic configs are tuned for."""
    args = synthetic.parse_args(["--out", "x"])
    d = SyntheticConfig()
    assert (args.num_train, args.num_val, args.image_size, args.seed) == (d.num_train, d.num_val, d.image_size, d.seed)
