"""Fixtures shared by the test folders: a fake COCO 2017 tree (the pipeline's plan, its dataset check, the workflow's
dry runs), the embedded default's synthetic dataset (made once for the tests that train on it) and a snapshot of a
folder's files (to show that something was left untouched)."""

import json
import os
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
def cpu_share():
    """The cores a test process may use: the machine's, shared out among pytest-xdist's workers (``make test`` runs
    two). A torch process with more threads than free cores spins and slows down severalfold."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers)


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


# Files whose tests share a session fixture that must exist once per run: they go to one pytest-xdist worker.
_SHARED_SESSION_FIXTURES = {"slurm_cluster": "cluster", "default_synthetic_dataset": "default_synthetic_dataset"}
# What a file's marks say of its cost (lower runs first): the cluster rehearsal, then trainings and pipelines, then
# the unit tests.
_COST_RANK = {"cluster": 0, "e2e": 1, "slow": 1}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test``: ``-n 2 --dist loadgroup``) a test file is the unit a worker takes, so its
    module-scoped fixtures (a tiny training, a dataset) are made once; files sharing a once-per-run session fixture
    (the SLURM cluster, the default synthetic dataset) take one group; the expensive files are handed out first so
    that the workers end together. Without workers nothing changes."""
    if not hasattr(config, "workerinput"):
        return
    files = {}
    for item in items:
        files.setdefault(item.nodeid.split("::")[0], []).append(item)
    rank = {}
    for file, file_items in files.items():
        shared = {
            _SHARED_SESSION_FIXTURES[f] for i in file_items for f in i.fixturenames if f in _SHARED_SESSION_FIXTURES
        }
        group = "_".join(sorted(shared)) or file
        marks = {m.name for i in file_items for m in i.iter_markers()}
        rank[file] = min([_COST_RANK[m] for m in marks if m in _COST_RANK], default=2)
        for item in file_items:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])  # stable: the files' own order otherwise
