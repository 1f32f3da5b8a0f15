"""Fixture runs with known values for the report tests (written once per session)."""

import shutil

import pytest

from tests.analysis import fake_runs

# AP levels (fractions) per arm and seed of the default variant; every other metric is the level
# plus a fixed offset (tests/analysis/fake_runs.py: fake_metrics). dsl has 2 seeds, dynamic_rcnn 1 (partial seeds).
LEVELS = {
    "baseline": {0: 0.30, 1: 0.31, 2: 0.32},
    "dla": {0: 0.33, 1: 0.35, 2: 0.34},
    "dsl": {0: 0.30, 1: 0.32},
    "dynamic_rcnn": {0: 0.40},
}
SWEEP = {
    "variant": "ki50-kb10-c100",
    "hyperparameters": {"iou_topk": 50, "beta_topk": 10, "update_iter_interval": 100},
    "levels": {0: 0.38, 1: 0.40},
}


def make_runs(root, val_data, dataset="synthetic", family="synthetic", sweeps=True):
    """Write the fixture runs under ``root`` (a family's runs folder)."""
    for arm, levels in LEVELS.items():
        for seed, level in levels.items():
            fake_runs.write_run(
                root,
                arm,
                seed,
                level,
                val_data=val_data,
                dataset=dataset,
                family=family,
                undefined_small=(arm == "dynamic_rcnn"),
            )
    if sweeps:
        for seed, level in SWEEP["levels"].items():
            fake_runs.write_run(
                root,
                "dynamic_rcnn",
                seed,
                level,
                variant=SWEEP["variant"],
                hyperparameters=SWEEP["hyperparameters"],
                val_data=val_data,
                dataset=dataset,
                family=family,
            )
    return root


@pytest.fixture(scope="session")
def fixture_tree(tmp_path_factory):
    """dict with ``runs`` (synthetic, with a sweep), ``runs_nosweep``, ``runs_coco``, ``val_ann``, ``val_images``."""
    base = tmp_path_factory.mktemp("analysis_fixture")
    ann, images, data = fake_runs.write_val_set(base / "data", num_images=4, size=48)
    return {
        "runs": make_runs(base / "runs" / "synthetic", data),
        "runs_nosweep": make_runs(base / "runs_nosweep" / "synthetic", data, sweeps=False),
        "runs_coco": make_runs(
            base / "runs_coco" / "coco_r50_fpn_1x", data, dataset="coco", family="coco_r50_fpn_1x", sweeps=False
        ),
        "val_ann": ann,
        "val_images": images,
        "val_data": data,
    }


@pytest.fixture
def runs_copy(fixture_tree, tmp_path):
    """A private, writable copy of the synthetic fixture runs (for corruption tests)."""
    dst = tmp_path / "runs" / "synthetic"
    shutil.copytree(fixture_tree["runs"], dst)
    return dst
