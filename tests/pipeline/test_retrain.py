"""dynrcnn.pipeline.retrain: a finished run's training request against what its manifest and config.py recorded."""

import os

from dynrcnn import run_record
from dynrcnn.pipeline import build
from dynrcnn.pipeline.plan import Run
from dynrcnn.pipeline.retrain import decide, recorded_request, request_changes, training_request


def _finish(run_dir, work_dir, cfg_options, deterministic=False, config="/elsewhere/configs/synthetic/baseline.py"):
    """A run folder as dynrcnn.tools.train leaves it (checkpoint in the work dir)."""
    work_dir.mkdir(parents=True)
    (work_dir / "epoch_2.pth").write_text("checkpoint")
    run_dir.mkdir(parents=True)
    (run_dir / "config.py").write_text(f"randomness = dict(deterministic={deterministic}, seed=0)\n")
    manifest = {key: None for key in run_record.MANIFEST_KEYS}
    manifest.update(
        config=config,
        checkpoint=str(work_dir / "epoch_2.pth"),
        epoch_checkpoints={},
        work_dir=str(work_dir),
        seed=0,
        dataset="synthetic",
        data_root="results/data/tiny",
        cfg_options=cfg_options,
        world_size=1,
    )
    run_record.write_manifest(str(run_dir), manifest)
    marker = run_dir.parents[4] / "data" / "tiny.ready"  # the dataset's marker, older than the run
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("{}")
    os.utime(marker, (0, 0))


def test_request_of_a_run_and_what_its_manifest_recorded(make_config, tmp_path):
    plan = build(make_config("tiny.yaml", arms=["baseline"], train=dict(max_epochs=2, cfg_options=["a.b=[1,2]"])))
    run = Run("baseline", "default", 0)
    wanted = training_request(plan, run)
    assert wanted == dict(
        config="configs/synthetic/baseline.py",
        cfg_options={"train_cfg.max_epochs": "2", "a.b": "[1, 2]"},  # as mmengine's DictAction parses them
        seed=0,
        dataset="synthetic",
        data_root="results/data/tiny",
        world_size=1,
        deterministic=False,
    )
    # the train tool records the parsed options as key=value; the checkout may have moved (another config path)
    _finish(tmp_path / plan.run_dir(run), tmp_path / "work", ["train_cfg.max_epochs=2", "a.b=[1, 2]"])
    manifest = run_record.read_manifest(plan.run_dir(run))
    assert request_changes(wanted, recorded_request(plan, run, manifest)) == []
    assert decide(plan).lines == [] and decide(plan).requests == {}


def test_changed_options_and_deterministic_are_named(make_config, tmp_path):
    plan = build(make_config("tiny.yaml", arms=["baseline"], train=dict(max_epochs=3, deterministic=True)))
    run = Run("baseline", "default", 0)
    _finish(tmp_path / plan.run_dir(run), tmp_path / "work", ["train_cfg.max_epochs=2", "x=1"])
    decision = decide(plan)
    assert decision.lines == [
        "retrain baseline/default/seed0: its training request changed since it was trained (--cfg-options "
        "train_cfg.max_epochs: 2 -> 3; --cfg-options x: 1 -> (none); deterministic: False -> True)"
    ]
    (marker,) = decision.requests.values()
    assert marker.startswith("results/logs/retrain/synthetic/baseline/default/seed0.") and marker.endswith(".txt")
    assert decision.reasons[marker] == decision.lines[0]
