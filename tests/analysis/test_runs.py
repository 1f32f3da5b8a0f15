"""analysis.runs: the report's loader reads exactly the runs it is given, matches each run's files by folder, and
names the run in every error. The run files' own checks (metrics.json, scalars.json) are dynrcnn.run_record's, tested
on plain dicts in tests/test_run_record.py; here one error of each file shows that the loader passes them on."""

import json
import shutil

import pytest

from analysis.runs import RunOutputError, load_runs, read_detections
from dynrcnn.run_record import PROVENANCE_KEYS
from tests.analysis.fake_runs import run_files


def test_load_runs_reads_every_run(fixture_tree):
    runs = load_runs(*run_files(fixture_tree["runs"]), family="synthetic", dataset="synthetic")
    assert [r.name for r in runs] == [
        "baseline/default/seed0",
        "baseline/default/seed1",
        "baseline/default/seed2",
        "dla/default/seed0",
        "dla/default/seed1",
        "dla/default/seed2",
        "dsl/default/seed0",
        "dsl/default/seed1",
        "dynamic_rcnn/default/seed0",
        "dynamic_rcnn/ki50-kb10-c100/seed0",
        "dynamic_rcnn/ki50-kb10-c100/seed1",
    ]
    base = runs[0]
    assert base.metrics["AP"] == pytest.approx(0.30)
    assert base.metrics["AP@0.90"] == pytest.approx(0.34)
    assert set(base.train.columns) >= {"step", "loss", "dynrcnn/iou_thr", "dynrcnn/beta", "dynrcnn/pos_per_img"}
    assert list(base.val["step"]) == [1, 2]
    assert sorted(base.detections) == [1, 2]
    assert base.detections[2] == fixture_tree["runs"] / "baseline/default/seed0/epoch_detections/epoch_2.bbox.json"
    assert (base.family, base.dataset) == ("synthetic", "synthetic")
    # the provenance block by dynrcnn.run_record.PROVENANCE_KEYS: a key the record lacks reads None
    assert tuple(base.provenance) == PROVENANCE_KEYS
    assert base.provenance["lr"] == 0.02 and base.provenance["base_lr"] is None
    # COCOeval's -1 (undefined) becomes NaN
    assert runs[8].metrics["APS"] != runs[8].metrics["APS"]


def test_only_the_given_runs_are_read(fixture_tree, tmp_path):
    """A run folder left from an earlier config (seed 7 next to the others) is not read unless its files are given."""
    root = tmp_path / "runs" / "synthetic"
    shutil.copytree(fixture_tree["runs_nosweep"], root)
    given = run_files(root)
    shutil.copytree(root / "baseline" / "default" / "seed0", root / "baseline" / "default" / "seed7")
    (root / "baseline" / "default" / "seed7" / "metrics.json").write_text("not even JSON")
    runs = load_runs(*given)
    assert [r.seed for r in runs if r.arm == "baseline"] == [0, 1, 2]
    assert "seed7" not in {r.path.name for r in runs}


def test_runs_without_epoch_detections(fixture_tree):
    metrics, scalars, _ = run_files(fixture_tree["runs"])
    assert all(r.detections == {} for r in load_runs(metrics, scalars))


def _expect_error(root, *fragments, files=None, **kwargs):
    with pytest.raises(RunOutputError) as info:
        load_runs(*(files or run_files(root)), **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_missing_metrics_names_run_and_file(runs_copy):
    files = run_files(runs_copy)
    (runs_copy / "dla" / "default" / "seed1" / "metrics.json").unlink()
    _expect_error(runs_copy, "run dla/default/seed1", "metrics.json", "missing", files=files)


def test_folder_mismatch(runs_copy):
    path = runs_copy / "dla" / "default" / "seed2" / "metrics.json"
    data = json.loads(path.read_text())
    data["run"]["seed"] = 7
    path.write_text(json.dumps(data))
    _expect_error(runs_copy, "run dla/default/seed2", "run.seed is 7 but 2 was expected")


def test_missing_scalars(runs_copy):
    (runs_copy / "baseline" / "default" / "seed0" / "scalars.json").unlink()
    _expect_error(runs_copy, "run baseline/default/seed0", "scalars.json", "missing")


def test_dataset_and_family_checked(fixture_tree):
    _expect_error(fixture_tree["runs"], "run.dataset is 'synthetic' but 'coco' was expected", dataset="coco")
    _expect_error(
        fixture_tree["runs"], "run.family is 'synthetic' but 'coco_r50_fpn_1x' was expected", family="coco_r50_fpn_1x"
    )


def test_files_must_be_in_run_folders(runs_copy, tmp_path):
    metrics, scalars, epochs = run_files(runs_copy)
    (runs_copy / "cascade" / "default" / "seed0").mkdir(parents=True)
    stray = runs_copy / "cascade" / "default" / "seed0" / "metrics.json"
    shutil.copy(metrics[0], stray)
    _expect_error(runs_copy, "arm folder 'cascade' is not one of", files=([stray], [], []))
    _expect_error(
        runs_copy, "'s0' is not a seed folder", files=([tmp_path / "dla" / "default" / "s0" / "m.json"], [], [])
    )
    _expect_error(
        runs_copy, "variant 'best' is neither", files=([tmp_path / "dla" / "best" / "seed0" / "m.json"], [], [])
    )
    _expect_error(runs_copy, "no runs given", files=([], scalars, epochs))


def test_every_run_needs_its_files_and_no_file_is_extra(runs_copy):
    metrics, scalars, epochs = run_files(runs_copy)
    _expect_error(
        runs_copy,
        "run baseline/default/seed1: --scalars has no file of its run folder",
        files=(metrics, scalars[:1] + scalars[2:], epochs),
    )
    dla_seed0 = next(i for i, path in enumerate(epochs) if "/dla/default/seed0/" in str(path))
    _expect_error(
        runs_copy,
        "run dla/default/seed0: --epoch-detections has no folder of its run folder",
        "the sample figures draw the lowest seed",
        files=(metrics, scalars, epochs[:dla_seed0] + epochs[dla_seed0 + 1 :]),
    )
    _expect_error(
        runs_copy, f"--scalars {scalars[0]}: no --metrics file of its run folder", files=(metrics[1:], scalars, [])
    )
    _expect_error(
        runs_copy,
        f"--epoch-detections {epochs[-1]}: no --metrics file of its run folder",
        files=(metrics[:-1], scalars[:-1], epochs),
    )
    _expect_error(runs_copy, "are in the same run folder", files=(metrics + metrics[:1], scalars, epochs))


def test_epoch_detections_of_the_lowest_seeds_only(runs_copy):
    """The pipeline makes the per-epoch detections of each arm's and variant's lowest seed only (the seed the sample
    figures draw): the other runs load without them."""
    metrics, scalars, epochs = run_files(runs_copy)
    runs = load_runs(metrics, scalars, epochs)
    lowest = {}
    for run in runs:
        lowest.setdefault((run.arm, run.variant), run.seed)
    kept = [path for path in epochs if any(f"/{a}/{v}/seed{s}/" in str(path) for (a, v), s in lowest.items())]
    assert 0 < len(kept) < len(epochs)
    loaded = load_runs(metrics, scalars, kept)
    assert {(r.arm, r.variant, r.seed) for r in loaded if r.detections} == {(a, v, s) for (a, v), s in lowest.items()}


def test_missing_epoch_detections_folder(runs_copy):
    files = run_files(runs_copy)
    shutil.rmtree(runs_copy / "dsl" / "default" / "seed1" / "epoch_detections")
    _expect_error(runs_copy, "run dsl/default/seed1", "epoch_detections: missing", files=files)


def test_corrupt_detections(tmp_path):
    path = tmp_path / "epoch_1.bbox.json"
    path.write_text('[{"image_id": 1, "bbox": [0, 0, 1], "score": 0.5}]')
    with pytest.raises(RunOutputError, match=r"run x/default/seed0: .*epoch_1\.bbox\.json: entry 0"):
        read_detections(path, "x/default/seed0")
