"""Fixtures shared by the test folders: a fake COCO 2017 tree (the pipeline's plan, its dataset check, the workflow's
dry runs), the embedded default's synthetic dataset (made once for the tests that train on it) and a snapshot of a
folder's files (to show that something was left untouched)."""

import json
from pathlib import Path

import pytest

PIPELINE_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "pipeline"


def coco_categories():
    """COCO's 80 categories (MMDetection's class names, COCO's non-contiguous ids)."""
    from mmdet.datasets import CocoDataset

    ids = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    return [dict(id=i, name=name) for i, name in zip(ids, CocoDataset.METAINFO["classes"])]


@pytest.fixture
def fake_coco(tmp_path):
    """A COCO 2017 layout whose annotation files have COCO's 80 categories but no images: enough for the DAG
    (dry runs, the plan) and the dataset check, not for training."""
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    categories = coco_categories()
    for split in ("train2017", "val2017"):
        (root / split).mkdir()
        (root / "annotations" / f"instances_{split}.json").write_text(
            json.dumps(dict(images=[], annotations=[], categories=categories))
        )
    return root


@pytest.fixture(scope="session")
def default_synthetic_dataset(tmp_path_factory):
    """The embedded default's synthetic dataset (dynrcnn.data.synthetic's defaults, as configs/pipeline/default.yaml
    asks), generated once per session: the tests that train on it share it and must not write into it."""
    from dynrcnn.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("default_dataset") / "synthetic")


def _file_state(root):
    """Every file below ``root`` (dot files included) with its modification time and bytes."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def file_state():
    """``file_state(root)``: every file below ``root`` with its modification time and bytes."""
    return _file_state


@pytest.fixture
def make_config(tmp_path, monkeypatch):
    """``make_config(base=None, **overrides)``: the config of ``configs/pipeline/{base}`` (none: the schema's
    defaults only) with top-level keys replaced (as a second --configfile would); the working directory is a scratch
    folder."""
    from dynrcnn.pipeline import load

    monkeypatch.chdir(tmp_path)

    def make(base=None, **overrides):
        config = load(PIPELINE_CONFIGS / base) if base else {}
        config.update(overrides)
        return config

    return make
