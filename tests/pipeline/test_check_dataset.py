"""dynrcnn.data.check_dataset: the COCO annotation check the check_dataset rule runs before any training."""

import json
import re

import pytest

from dynrcnn.data.check_dataset import main


def _rename_category(path, old, new):
    data = json.loads(path.read_text())
    data["categories"] = [dict(c, name=new) if c["name"] == old else c for c in data["categories"]]
    path.write_text(json.dumps(data))


def _two_categories(path):
    categories = [dict(id=1, name="circle"), dict(id=2, name="square")]
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=categories)))


@pytest.mark.parametrize(
    "split, change, message",
    [
        ("val", lambda p: p.write_text('{"images": [], '), r"instances_val2017\.json: not a readable JSON file"),
        ("train", lambda p: p.write_text("[]"), r"instances_train2017\.json: not a JSON object \(a list\)"),
        ("val", lambda p: p.write_text('{"images": [], "annotations": []}'),
         r"instances_val2017\.json: no 'categories' list"),
        ("val", _two_categories,
         r"instances_val2017\.json: 2 categories, not COCO's 80 \(unexpected 'circle', 'square'; missing 'person'"),
        ("train", lambda p: _rename_category(p, "person", "human"),
         r"instances_train2017\.json: 80 categories, not COCO's 80 \(unexpected 'human'; missing 'person'\)"),
    ],
)  # fmt: skip
def test_bad_annotations_fail_without_output(fake_coco, tmp_path, capsys, split, change, message):
    change(fake_coco / "annotations" / f"instances_{split}2017.json")
    out = tmp_path / "checked"
    out.write_text("a verdict on an earlier version")
    assert main(["--root", str(fake_coco), "--dataset", "coco", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert re.search(
        rf"^{re.escape(str(fake_coco))}/annotations/{message}.*point dataset.root at the COCO 2017 root", err
    )
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_files_fail(fake_coco, tmp_path, capsys):
    (fake_coco / "train2017").rmdir()
    assert main(["--root", str(fake_coco), "--out", str(tmp_path / "checked")]) == 1
    assert "missing train2017" in capsys.readouterr().err and not (tmp_path / "checked").exists()


def test_good_annotations_write_the_output(fake_coco, tmp_path):
    out = tmp_path / "data" / "coco.checked"
    assert main(["--root", str(fake_coco), "--dataset", "coco", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    val = fake_coco / "annotations" / "instances_val2017.json"
    assert record["dataset"] == "coco" and record["passed"][str(val)] == [val.stat().st_size, val.stat().st_mtime_ns]


def test_category_ids_in_any_order_pass(fake_coco, tmp_path):
    path = fake_coco / "annotations" / "instances_val2017.json"
    data = json.loads(path.read_text())
    data["categories"] = [dict(c, id=i) for i, c in enumerate(reversed(data["categories"]))]
    path.write_text(json.dumps(data))
    assert main(["--root", str(fake_coco), "--out", str(tmp_path / "checked")]) == 0
