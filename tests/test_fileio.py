import json
import os

import pytest

from dynrcnn import fileio
from dynrcnn.fileio import atomic_write_json, atomic_write_text, replace_dir


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_json(str(path), {"a": 1})
    atomic_write_json(str(path), {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(path.parent) == ["metrics.json"]


def test_failed_write_keeps_previous_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_text(str(path), "complete\n")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(str(path), "partial")
    assert path.read_text() == "complete\n"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_nan_is_refused(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(str(tmp_path / "m.json"), {"AP": float("nan")})
    assert not (tmp_path / "m.json").exists()


def test_replace_dir_puts_the_new_folder_in_place(tmp_path):
    old, new = tmp_path / "out", tmp_path / "new"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    (new / "b").write_text("new")
    replace_dir(new, old)
    assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(old) == ["b"]
    replace_dir_target = tmp_path / "fresh"  # no folder there yet
    (tmp_path / "n2").mkdir()
    replace_dir(tmp_path / "n2", replace_dir_target)
    assert sorted(os.listdir(tmp_path)) == ["fresh", "out"]
