"""dynrcnn.run_record: the run record's formats and their checks, on plain dicts and small files (the controls'
records: tests/test_run_record_controls.py). The report's loader (analysis.runs) only wraps these errors with the
run's name: tests/analysis/test_runs.py."""

import copy
import json
import os
from collections import namedtuple

import pytest

from dynrcnn import run_record as rr
from dynrcnn.run_record import lowest_seed_runs

Run = namedtuple("Run", "arm variant seed")


def test_lowest_seed_runs_keeps_one_run_per_arm_and_variant_in_the_given_order():
    runs = [
        Run("dla", "default", 2),
        Run("dla", "default", 0),
        Run("baseline", "static", 5),
        Run("baseline", "default", 1),
        Run("dla", "default", 1),
        Run("baseline", "static", 3),
    ]
    assert lowest_seed_runs(runs) == [
        Run("dla", "default", 0),
        Run("baseline", "default", 1),
        Run("baseline", "static", 3),
    ]
    assert lowest_seed_runs(iter(runs[:1])) == runs[:1] and lowest_seed_runs([]) == []


def test_layout_files():
    assert rr.layout_files("synthetic") == [
        "annotations/instances_train.json", "annotations/instances_val.json", "train", "val"
    ]  # fmt: skip
    assert rr.layout_files("coco")[1:3] == ["annotations/instances_val2017.json", "train2017"]


# ---------------------------------------------------------------------------------------------------- metrics.json
MANIFEST = dict(
    config="configs/synthetic/dla.py",
    config_sha256="ab" * 32,
    checkpoint="results/work/synthetic/dla/default/seed0/epoch_3.pth",
    epoch_checkpoints={1: "results/work/synthetic/dla/default/seed0/epoch_1.pth"},
    work_dir="results/work/synthetic/dla/default/seed0",
    seed=0,
    dataset="synthetic",
    data_root="results/data/synthetic",
    cfg_options={},
    device="cpu",
    gpus=0,
    world_size=1,
    images_per_gpu=4,
    lr=0.02,
    base_lr=0.02,
    max_epochs=3,
    threads=1,
    wall_time_s=12.5,
    cpu_model="Test CPU",
    cpu_capability="AVX2",
)


def _provenance():
    return rr.provenance_record(
        MANIFEST,
        git_commit="0123abc",
        packages={"mmdet": "3.3.0"},
        eval_device="cpu",
        eval_cpu=dict(cpu_model="Eval CPU", cpu_capability="AVX512"),
        eval_wall_time_s=3.0,
    )


def _record():
    run = dict(
        family="synthetic",
        arm="dynamic_rcnn",
        variant="ki50-kb8-c20",
        seed=3,
        dataset="synthetic",
        hyperparameters=dict(iou_topk=50, beta_topk=8, update_iter_interval=20),
    )
    metrics = dict({k: 0.3 for k in rr.SUMMARY_METRICS}, APS=-1, AP_at_iou={k: 0.4 for k in rr.IOU_KEYS})
    return dict(run=run, metrics=metrics, provenance=_provenance())


def test_a_complete_record_has_no_problem():
    assert rr.metrics_problem(_record()) is None


def _set(path, value):
    def change(record):
        *keys, last = path
        for key in keys:
            record = record[key]
        if value is DELETE:
            del record[last]
        else:
            record[last] = value

    return change


DELETE = object()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.clear() or r.update(x=1), 'no "run" object'),
        (_set(["metrics"], [0.3]), 'no "metrics" object'),
        (_set(["provenance"], DELETE), 'no "provenance" object'),
        (_set(["run", "family"], None), "run.family is None, expected a string"),
        (_set(["run", "variant"], 5), "run.variant is 5, expected a string"),
        (_set(["run", "arm"], "cascade"), "run.arm is 'cascade', expected one of baseline, dla, dsl, dynamic_rcnn"),
        (_set(["run", "dataset"], "voc"), "run.dataset is 'voc', expected one of synthetic, coco"),
        (_set(["run", "seed"], "3"), "run.seed is '3', expected an integer"),
        (_set(["run", "seed"], True), "run.seed is True, expected an integer"),
        (_set(["run", "hyperparameters"], None), "run.hyperparameters must hold numbers iou_topk, beta_topk, upd"),
        (_set(["run", "hyperparameters", "beta_topk"], "8"), "run.hyperparameters must hold numbers"),
        (_set(["run", "variant"], "best"), "run.variant 'best' is neither 'default'"),
        (_set(["run", "hyperparameters", "iou_topk"], 60), "do not match the variant 'ki50-kb8-c20'"),
        (_set(["run", "control"], {"kind": "l1"}), "run.control is set but variant 'ki50-kb8-c20' is no control"),
        (_set(["metrics", "AP"], 37.0), "metrics.AP is 37.0, expected a fraction in [0, 1] or -1 (undefined)"),
        (_set(["metrics", "APL"], float("nan")), "metrics.APL is nan"),
        (_set(["metrics", "AP50"], DELETE), "metrics.AP50 is None"),
        (_set(["metrics", "AP_at_iou"], [0.4]), "metrics.AP_at_iou must hold the keys 0.50, 0.55"),
        (_set(["metrics", "AP_at_iou", "0.90"], DELETE), "metrics.AP_at_iou must hold the keys"),
        (_set(["metrics", "AP_at_iou", "0.75"], -0.5), 'metrics.AP_at_iou["0.75"] is -0.5, expected a fraction'),
    ],
)
def test_each_problem_of_a_metrics_record_is_named(change, message):
    record = _record()
    change(record)
    problem = rr.metrics_problem(record)
    assert problem is not None and message in problem, problem


def test_a_record_that_is_no_object():
    assert rr.metrics_problem([1]) == "expected a JSON object, not a list"


def test_metrics_file_round_trip_and_errors(tmp_path):
    path = tmp_path / "metrics.json"
    rr.write_metrics(path, _record())
    assert rr.read_metrics(path, expect=dict(arm="dynamic_rcnn", seed=3)) == _record()
    with pytest.raises(rr.RunRecordError, match=r"run\.seed is 3 but 2 was expected \(the file belongs to another"):
        rr.read_metrics(path, expect=dict(seed=2))
    # an incomplete record is neither written nor read
    bad = _record()
    bad["metrics"]["AP"] = 2.0
    with pytest.raises(rr.RunRecordError, match="refusing to write an incomplete metrics record: metrics.AP is 2.0"):
        rr.write_metrics(tmp_path / "other.json", bad)
    assert not (tmp_path / "other.json").exists()
    path.write_text(json.dumps(bad))
    with pytest.raises(rr.RunRecordError, match=r"incomplete metrics record \(metrics\.AP is 2\.0.*\)\. Delete it so"):
        rr.read_metrics(path)
    path.write_text('{"run": ')
    with pytest.raises(rr.RunRecordError, match=r"not a readable JSON file \(JSONDecodeError.*Delete it so that"):
        rr.read_metrics(path)
    with pytest.raises(rr.RunRecordError, match=r"missing\. Delete it so that the pipeline evaluates"):
        rr.read_metrics(tmp_path / "none.json")


def test_provenance_block():
    """The block evaluate writes: every key of PROVENANCE_KEYS, the training's from its manifest, and read back by
    name (None for what an older record lacks)."""
    block = _provenance()
    assert tuple(block) == rr.PROVENANCE_KEYS
    assert {k: block[k] for k in rr.PROVENANCE_MANIFEST_KEYS} == {k: MANIFEST[k] for k in rr.PROVENANCE_MANIFEST_KEYS}
    assert (block["checkpoint"], block["eval_cpu_model"], block["eval_device"]) == ("epoch_3.pth", "Eval CPU", "cpu")
    record = _record()
    assert rr.provenance_values(record) == block
    del record["provenance"]["cpu_model"]
    record["provenance"]["older_key"] = 1
    values = rr.provenance_values(record)
    assert values["cpu_model"] is None and "older_key" not in values and tuple(values) == rr.PROVENANCE_KEYS


# --------------------------------------------------------------------------------------------- train_manifest.json
def test_manifest_round_trip_keeps_paths_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = "results/runs/synthetic/dla/default/seed0"
    os.makedirs(folder)
    rr.write_manifest(folder, MANIFEST)
    stored = json.loads((tmp_path / folder / rr.MANIFEST_FILE).read_text())
    assert stored["checkpoint"] == "../../../../../work/synthetic/dla/default/seed0/epoch_3.pth"
    assert stored["epoch_checkpoints"] == {"1": "../../../../../work/synthetic/dla/default/seed0/epoch_1.pth"}
    manifest = rr.read_manifest(folder)
    assert manifest["checkpoint"] == MANIFEST["checkpoint"] and manifest["work_dir"] == MANIFEST["work_dir"]
    assert manifest["epoch_checkpoints"] == {1: MANIFEST["epoch_checkpoints"][1]}


def test_manifest_errors(tmp_path):
    incomplete = {k: v for k, v in MANIFEST.items() if k not in ("lr", "seed")}
    with pytest.raises(rr.RunRecordError, match="refusing to write a manifest without seed, lr"):
        rr.write_manifest(tmp_path, incomplete)
    assert not (tmp_path / rr.MANIFEST_FILE).exists()
    with pytest.raises(rr.RunRecordError, match=r"missing\. Train the run \(its training has not finished\)"):
        rr.read_manifest(tmp_path)
    path = tmp_path / rr.MANIFEST_FILE
    for content, message in (
        (incomplete, r"not a complete training manifest \(no seed, lr\)\. Delete the run's train_manifest\.json"),
        ([1], r"not a complete training manifest \(no config, config_sha256, "),
        (dict(MANIFEST, work_dir="/abs/work"), r"work_dir is an absolute path \(written by an older version\)\. Del"),
    ):
        path.write_text(json.dumps(content))
        with pytest.raises(rr.RunRecordError, match=message):
            rr.read_manifest(tmp_path)
    path.write_text("{")
    with pytest.raises(rr.RunRecordError, match="not a readable JSON file"):
        rr.read_manifest(tmp_path)


# ---------------------------------------------------------------------------------------------------- scalars.json
def test_scalars_round_trip(tmp_path):
    path = tmp_path / rr.SCALARS_FILE
    lines = [dict(step=1, lr=0.02, loss=1.5), {"step": 1, "coco/bbox_mAP": 0.1}, dict(step=2, loss_bbox=0.5)]
    rr.write_scalars(path, lines)
    path.write_text(path.read_text() + "\n")  # blank lines are skipped
    assert rr.read_scalars(path) == ([lines[0], lines[2]], [lines[1]])
    assert rr.is_train_line(lines[2]) and not rr.is_train_line(lines[1])


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"step": 1, "lr": 0.1}\n{"step": 2, "lr"\n', r"line 2 is not valid JSON"),
        ('{"step": 1, "lr": 0.1}\n{"lr": 0.1}\n', r'line 2 has no numeric "step"'),
        ('{"step": "1", "lr": 0.1}\n', r'line 1 has no numeric "step"'),
        ("[1]\n", r'line 1 has no numeric "step"'),
        ('{"coco/bbox_mAP": 0.3, "step": 1}\n', r"no training iterations logged"),
        ("", r"no training iterations logged"),
    ],
)
def test_scalars_errors(tmp_path, text, message):
    path = tmp_path / rr.SCALARS_FILE
    path.write_text(text)
    with pytest.raises(rr.RunRecordError, match=message + r".*Delete the run's train_manifest\.json so that"):
        rr.read_scalars(path)


def test_missing_scalars(tmp_path):
    with pytest.raises(rr.RunRecordError, match=r"missing\. Delete the run's train_manifest\.json"):
        rr.read_scalars(tmp_path / rr.SCALARS_FILE)


def test_records_are_not_changed_by_the_checks():
    record = _record()
    before = copy.deepcopy(record)
    rr.metrics_problem(record)
    rr.provenance_values(record)
    assert record == before
