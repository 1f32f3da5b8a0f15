"""Boxes of COCO-format annotation files (dynrcnn.data.check_dataset.check_boxes), in COCO files (the check_dataset
rule) and in the generated synthetic dataset: bad ones are one error naming the file, the annotation id and the
fix; the degenerate ones MMDetection skips are counted, not rejected."""

import json
import math
import re

import pytest

from dynrcnn.data import synthetic
from dynrcnn.data.check_dataset import main


def _with_annotations(path, annotations, images=None):
    data = json.loads(path.read_text())
    data["images"] = images or [dict(id=1, file_name="1.jpg", width=100, height=80)]
    data["annotations"] = [
        dict(dict(id=i + 10, image_id=1, category_id=1, bbox=[10, 10, 20, 20], area=400, iscrowd=0), **ann)
        for i, ann in enumerate(annotations)
    ]
    path.write_text(json.dumps(data))  # NaN and Infinity are written as JSON's NaN / Infinity literals


def _check(root, tmp_path, dataset="coco"):
    out = tmp_path / "checked"
    return main(["--root", str(root), "--dataset", dataset, "--out", str(out)]), out


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(bbox=[10, 10, -5, 20]), r"annotation id 11 \(image 1\): negative width, height or area"),
        (dict(bbox=[10, 10, 20, 20], area=-3), r"annotation id 11 \(image 1\): negative width, height or area"),
        (dict(bbox=[10, math.nan, 20, 20]), r"annotation id 11 \(image 1\): bbox \[10, nan, 20, 20\] .* not finite"),
        (dict(area=math.inf), r"annotation id 11 \(image 1\): .* area inf is not finite"),
        (dict(bbox=[10, 10, 20]), r"annotation id 11 \(image 1\): bbox \[10, 10, 20\] is not four numbers"),
        (dict(bbox=[10, 10, "20", 20]), r"annotation id 11 \(image 1\): bbox .* is not four numbers"),
        (dict(area=None), r"annotation id 11 \(image 1\): area None is not a number"),
        (dict(category_id=999), r"annotation id 11 \(image 1\): category_id 999 is not one of the file's categories"),
        (dict(image_id=7), r"annotation id 11 \(image 7\): image_id 7 is not one of the file's images"),
        (dict(bbox=[90, 10, 20, 20]), r"annotation id 11 \(image 1\): bbox \[90, 10, 20, 20\] reaches beyond its "
         r"100x80 image by more than 1 x 1 pixels"),
        (dict(bbox=[-2, 10, 20, 20]), r"annotation id 11 \(image 1\): bbox .* reaches beyond"),
    ],
)  # fmt: skip
def test_a_bad_box_is_one_error_naming_the_file_and_the_annotation(fake_coco, tmp_path, capsys, bad, message):
    path = fake_coco / "annotations" / "instances_train2017.json"
    _with_annotations(path, [{}, bad, dict(bbox=[1, 1, -1, 1])])  # the first bad one is named
    code, out = _check(fake_coco, tmp_path)
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    (line,) = err.strip().splitlines()
    assert re.match(rf"{re.escape(str(path))}: {message}.*\. Correct or remove that annotation, or restore COCO", line)


def test_a_bad_image_size_is_named(fake_coco, tmp_path, capsys):
    path = fake_coco / "annotations" / "instances_val2017.json"
    _with_annotations(path, [{}], images=[dict(id=1, file_name="1.jpg", width=0, height=80)])
    assert _check(fake_coco, tmp_path)[0] == 1
    assert f"{path}: image id 1: width 0 and height 80 must be positive numbers" in capsys.readouterr().err


def test_mmdetections_skipped_boxes_are_counted_not_rejected(fake_coco, tmp_path, capsys):
    path = fake_coco / "annotations" / "instances_train2017.json"
    annotations = [
        {},  # a box
        dict(bbox=[296.65, 388.33, 1.03, 0.0], area=0.0),  # COCO train2017's annotation 918: height 0
        dict(bbox=[10, 10, 0.5, 20], area=10),  # under a pixel wide
        dict(bbox=[10, 10, 20, 20], area=0),  # zero area
        dict(ignore=True, bbox=[-50, 10, -5, 20]),  # marked ignore: MMDetection reads nothing else of it
        dict(iscrowd=1, bbox=[0, 0, 100, 80], area=5000),  # a crowd region
        dict(bbox=[80.5, 60.5, 20, 20]),  # within the tolerance of a pixel
    ]
    _with_annotations(path, annotations)
    code, out = _check(fake_coco, tmp_path)
    assert code == 0
    record = json.loads(out.read_text())["boxes"][str(path)]
    assert record == dict(annotations=7, boxes=2, crowd=1, skipped=4, skipped_ids=[11, 12, 13, 14])
    assert (
        f"{path}: 2 boxes, 1 crowd regions (ignored in training), 4 annotations skipped as MMDetection skips them "
        "(marked ignore, or width or height under 1 pixel or area 0: ids 11, 12, 13, 14)" in capsys.readouterr().out
    )


def test_a_synthetic_root_is_checked_too(tmp_path, capsys):
    root = synthetic.generate(tmp_path / "syn", num_train=2, num_val=1, image_size=64, seed=0)
    assert _check(root, tmp_path, "synthetic")[0] == 0
    path = root / "annotations" / "instances_val.json"
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"][2] = -data["annotations"][0]["bbox"][2]
    path.write_text(json.dumps(data))
    assert _check(root, tmp_path, "synthetic")[0] == 1
    err = capsys.readouterr().err
    assert f"{path}: annotation id 1 (image 1): negative width" in err and "Delete the dataset folder" in err


@pytest.mark.parametrize(
    "bbox, message",
    [
        ([5.0, 5.0, -8.0, 10.0], "annotation id 1 (image 1): negative width"),
        ([5.0, 5.0, 0.5, 10.0], "annotation ids [1] are boxes MMDetection would skip"),
        ([60.0, 5.0, 10.0, 10.0], "annotation id 1 (image 1): bbox [60.0, 5.0, 10.0, 10.0] reaches beyond"),
    ],
)
def test_the_generator_writes_no_dataset_with_a_bad_box(tmp_path, monkeypatch, bbox, message):
    render, calls = synthetic._render_image, []

    def bad_first_box(rng, cfg, size_probs):  # the first image's first box
        img, objects = render(rng, cfg, size_probs)
        calls.append(1)
        return img, ([dict(objects[0], bbox=bbox)] + objects[1:]) if len(calls) == 1 else objects

    monkeypatch.setattr(synthetic, "_render_image", bad_first_box)
    out = tmp_path / "syn"
    with pytest.raises(synthetic.SyntheticDatasetError) as exc:
        synthetic.generate(out, num_train=2, num_val=1, image_size=64, seed=0)
    assert str(exc.value).startswith(f"{out}/annotations/instances_train.json: {message}")
    assert "a bug of dynrcnn.data.synthetic" in str(exc.value)
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor its partial folder
