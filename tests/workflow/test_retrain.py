"""A finished training is redone only on purpose (dynrcnn.pipeline.retrain, the profiles' rerun-triggers: mtime).

On a finished tiny pipeline (the run files written as the train tool writes them, no training): nothing to do; with
the checkpoints deleted, still no training and one line saying how to retrain; a changed training request (another
max_epochs) plans that training with its reason. And through real jobs (a copy of the workflow whose train rule only
touches its outputs): a one-word edit of the train rule's shell command plans no training."""

import os
import re
import shutil
import time

import pytest

from dynrcnn import run_record
from dynrcnn.data.synthetic import generate

SMALL = dict(num_train=2, num_val=1, image_size=64, seed=0)
ARMS = ("baseline", "dynamic_rcnn")


def _config(smk, tmp_path, **overrides):
    dataset = dict(name="synthetic", root="results/data/tiny", synthetic=SMALL)
    return smk.write_config(tmp_path / "c.yaml", base="tiny.yaml", dataset=dataset, **overrides)


def _finished_pipeline(smk, work, max_epochs=2):
    """The tiny pipeline's files once finished: dataset, each run's work dir (checkpoint), manifest, scalars,
    resolved config, metrics, detections; every output newer than what it is made from."""
    generate(work / "results" / "data" / "tiny", **SMALL)
    now = time.time()
    stamped = [work / "results/data/tiny.ready"]
    stamped[0].write_text((work / "results/data/tiny/.complete").read_text())
    for arm in ARMS:
        run = work / run_record.run_dir("synthetic", arm, "default", 0)
        wdir = work / run_record.work_dir("synthetic", arm, "default", 0)
        wdir.mkdir(parents=True)
        (wdir / f"epoch_{max_epochs}.pth").write_text("checkpoint")
        run.mkdir(parents=True)
        (run / "config.py").write_text("randomness = dict(deterministic=False, seed=0)\n")
        manifest = {key: None for key in run_record.MANIFEST_KEYS}
        manifest.update(
            config=str(smk.repo / "configs" / "synthetic" / f"{arm}.py"),
            checkpoint=str(wdir / f"epoch_{max_epochs}.pth"),
            epoch_checkpoints={max_epochs: str(wdir / f"epoch_{max_epochs}.pth")},
            work_dir=str(wdir),
            seed=0,
            dataset="synthetic",
            data_root="results/data/tiny",
            cfg_options=[f"train_cfg.max_epochs={max_epochs}", "train_cfg.val_interval=1"],  # as the tool records
            world_size=1,
        )
        run_record.write_manifest(str(run), manifest)
        for rel in ("scalars.json", "metrics.json", "detections/final.bbox.json"):
            (run / rel).parent.mkdir(parents=True, exist_ok=True)
            (run / rel).write_text("{}")
        (run / "epoch_detections").mkdir()
        stamped += [run / "train_manifest.json", run / "scalars.json", run / "metrics.json"]
        stamped += [run / "detections/final.bbox.json", run / "epoch_detections"]
    # in the past, in the order the pipeline makes them (a retrain marker written later is newer than a manifest)
    for i, path in enumerate(stamped):
        os.utime(path, (now - 30 + i, now - 30 + i))


def _retrain_lines(output):
    return [line for line in output.splitlines() if line.startswith("retrain ") or "no checkpoint left" in line]


def test_finished_runs_are_retrained_only_on_purpose(tmp_path, smk):
    work = tmp_path / "work"
    _finished_pipeline(smk, work)
    config = _config(smk, tmp_path)
    out = smk.run(work, "-n", configfiles=[config], check=True).stdout
    assert "Nothing to be done" in out and not _retrain_lines(out), out[-3000:]

    # the work dirs cleaned to free disk: nothing retrained, one line saying how to retrain one
    shutil.rmtree(work / "results" / "work")
    out = smk.run(work, "-n", configfiles=[config], check=True).stdout
    assert "Nothing to be done" in out, out[-3000:]
    manifest = run_record.run_dir("synthetic", "baseline", "default", 0) + "/train_manifest.json"
    assert _retrain_lines(out) == [
        "2 finished runs have no checkpoint left (work dir cleaned): not retrained, their metrics, scalars and "
        f"detections stay; to retrain one: snakemake --forcerun {manifest} (or delete that file)"
    ]
    out = smk.run(work, "-n", "--forcerun", manifest, configfiles=[config], check=True).stdout
    assert smk.job_counts(out)["train"] == 1 and "rule train:" in out, out[-3000:]

    # a changed training request (another max_epochs: another resolved config) retrains, with its reason
    train = dict(max_epochs=3, cfg_options=["train_cfg.val_interval=1"])
    out = smk.run(work, "-n", configfiles=[_config(smk, tmp_path, train=train)], check=True).stdout
    assert smk.job_counts(out).get("train") == 2, out[-3000:]
    assert _retrain_lines(out) == [
        f"retrain {arm}/default/seed0: its training request changed since it was trained (--cfg-options "
        "train_cfg.max_epochs: 2 -> 3)"
        for arm in ARMS
    ]
    assert re.search(
        r"reason: Updated input files: results/logs/retrain/synthetic/baseline/default/seed0\.[0-9a-f]{12}\.txt", out
    )


@pytest.mark.e2e
def test_a_rule_code_edit_retrains_nothing(tmp_path, smk):
    repo = tmp_path / "repo"  # a copy of the workflow whose train rule only touches its outputs
    repo.mkdir()
    for name in ("Snakefile", "workflow", "configs", "profiles"):
        (shutil.copytree if (smk.repo / name).is_dir() else shutil.copy)(smk.repo / name, repo / name)
    train = repo / "workflow" / "rules" / "train.smk"
    text = train.read_text()
    head, _ = text.split("    shell:\n", 1)
    train.write_text(head + '    shell:\n        "touch {output.manifest} {output.scalars}"\n')
    work = tmp_path / "work"
    generate(work / "results" / "data" / "tiny", **SMALL)  # the dataset made beforehand (the copy has no package)
    (work / "results/data/tiny.ready").write_text((work / "results/data/tiny/.complete").read_text())
    targets = [run_record.run_dir("synthetic", arm, "default", 0) + "/train_manifest.json" for arm in ARMS]
    config = _config(smk, tmp_path)
    smk.run(work, "--cores", "1", *targets, configfiles=[config], snakefile=repo / "Snakefile", check=True)

    train.write_text(head + '    shell:\n        "touch {output.manifest} {output.scalars} && true"\n')
    out = smk.run(work, "-n", *targets, configfiles=[config], snakefile=repo / "Snakefile", check=True).stdout
    assert "Nothing to be done" in out, out[-3000:]
    # without the profile's rerun-triggers, Snakemake would have retrained both (the edit is seen)
    every = ("--rerun-triggers", "mtime", "params", "input", "software-env", "code")
    out = smk.run(work, "-n", *targets, *every, configfiles=[config], snakefile=repo / "Snakefile", check=True).stdout
    assert smk.job_counts(out).get("train") == 2, out[-3000:]
