"""check_dataset.recheck_changed: the annotation files whose SHA-256 differs from a check record's are checked again
(a record without SHA-256, of an older version: every file)."""

import json

import pytest

from dynrcnn.data.check_dataset import HASHES_KEY, DatasetCheckError, main, recheck_changed

TRAIN, VAL = "annotations/instances_train.json", "annotations/instances_val.json"


def _dataset(root):
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        (root / split).mkdir()
        data = dict(
            images=[dict(id=1, file_name="1.png", width=64, height=64)],
            annotations=[dict(id=7, image_id=1, category_id=1, bbox=[4.0, 4.0, 10.0, 10.0], area=100.0, iscrowd=0)],
            categories=[dict(id=1, name="square")],
        )
        (root / f"annotations/instances_{split}.json").write_text(json.dumps(data))


def _edit(path, width):
    data = json.loads(path.read_text())
    data["annotations"][0]["bbox"][2] = width
    path.write_text(json.dumps(data))


def test_only_changed_files_are_checked_again(tmp_path):
    root, record = tmp_path / "ds", tmp_path / "ds.ready"
    _dataset(root)
    assert main(["--root", str(root), "--dataset", "synthetic", "--out", str(record)]) == 0
    assert set(json.loads(record.read_text())[HASHES_KEY]) == {TRAIN, VAL}
    assert recheck_changed(str(root), "synthetic", str(record)) == []
    _edit(root / VAL, 12.0)  # changed, still a good box
    assert recheck_changed(str(root), "synthetic", str(record)) == [VAL]
    _edit(root / TRAIN, -5.0)
    with pytest.raises(DatasetCheckError) as err:
        recheck_changed(str(root), "synthetic", str(record))
    message = str(err.value)
    assert message.startswith(f"{root / TRAIN} (changed since the dataset was checked: its SHA-256 differs from ")
    assert "annotation id 7 (image 1): negative width" in message and "\n" not in message
    assert message.endswith("Delete the dataset folder and its .ready marker next to it to generate it again")


def test_a_record_without_hashes_checks_every_file(tmp_path):
    root, record = tmp_path / "ds", tmp_path / "ds.ready"
    _dataset(root)
    record.write_text(json.dumps({"seed": 0}))  # a marker of an older version: the generator's parameters only
    assert recheck_changed(str(root), "synthetic", str(record)) == [TRAIN, VAL]
    _edit(root / VAL, -1.0)
    with pytest.raises(DatasetCheckError, match=r"not recorded in the dataset's check.*negative width"):
        recheck_changed(str(root), "synthetic", str(record))
