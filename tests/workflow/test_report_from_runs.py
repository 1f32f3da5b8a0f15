"""`make report` (report.from_runs, configs/pipeline/report_from_runs.yaml): the report of a config rebuilt from the
run folders alone. Only results/runs/ of a finished pipeline (fake runs in the pipeline's on-disk format,
tests/analysis/fake_runs.py: no training) is copied into a fresh tree: the workflow plans the report jobs and no
training, evaluation or dataset job, and rebuilds the tables the report tool makes from the original tree. A run of
the config that is missing is named in one notice; a COCO family needs no COCO root."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.analysis import fake_runs

REPORT_ONLY = dict(report=1, publish_report=1, all=1)


def _finished_tree(root, family="synthetic", dataset="synthetic", arms=("baseline", "dynamic_rcnn"), seeds=(0,)):
    runs = root / "results" / "runs" / family
    for i, arm in enumerate(arms):
        for seed in seeds:
            folder = fake_runs.write_run(runs, arm, seed, 0.3 + 0.05 * i + 0.01 * seed, family=family, dataset=dataset)
            (folder / "train_manifest.json").write_text("{}")  # a record only: no checkpoint, no work dir here
    return runs


def _from_runs(smk, *configs):
    return [*configs, smk.configs / "report_from_runs.yaml"]


@pytest.mark.e2e
def test_report_from_the_run_folders_alone(tmp_path, smk):
    finished = tmp_path / "finished"
    runs = _finished_tree(finished)
    # the benchmark files of two jobs (copied with the runs, they enter the compute table)
    bench = [
        fake_runs.write_benchmark(finished / "results" / "benchmarks", rule, "synthetic", "baseline", 0, 60, 50, 900)
        for rule in ("train", "evaluate")
    ]
    # the report the pipeline's report rule makes from the original tree (the same tool, every run file)
    reference = tmp_path / "reference"
    subprocess.run(
        [sys.executable, "-m", "analysis.report", *[a.replace(f"{finished}/", "") for a in fake_runs.report_args(runs)]]
        + ["--out-dir", str(reference), "--family", "synthetic", "--dataset", "synthetic"]
        + ["--benchmarks", *[str(p.relative_to(finished)) for p in bench]],
        check=True,
        cwd=finished,  # the run paths in the runs table are relative to the working directory, as in the pipeline
        env={**os.environ, "PYTHONPATH": str(smk.repo)},
        capture_output=True,
    )
    fresh = tmp_path / "fresh"  # a fresh clone's working directory: only results/runs/ copied
    shutil.copytree(finished / "results" / "runs", fresh / "results" / "runs")
    shutil.copytree(finished / "results" / "benchmarks", fresh / "results" / "benchmarks")
    configs = _from_runs(smk, smk.configs / "tiny.yaml")

    dry = smk.run(fresh, "-n", configfiles=configs, check=True).stdout
    assert smk.job_counts(dry) == REPORT_ONLY, dry[-3000:]
    assert "left out of the report" not in dry  # every run of the config is there

    smk.run(fresh, "--cores", "1", configfiles=configs, check=True)
    tables = sorted(p.relative_to(reference) for p in (reference / "tables").iterdir())
    assert tables
    assert "| total | 2 |" in (reference / "tables" / "compute.md").read_text(encoding="utf-8")
    for rel in tables:
        assert (fresh / "reports" / "synthetic" / rel).read_bytes() == (reference / rel).read_bytes(), rel
    assert not (fresh / "results" / "data").exists() and not (fresh / "results" / "work").exists()


def test_missing_runs_are_named_and_coco_needs_no_dataset(tmp_path, smk):
    fresh = tmp_path / "fresh"
    _finished_tree(fresh, seeds=(0,))
    two_seeds = smk.write_config(tmp_path / "two_seeds.yaml", base="tiny.yaml", seeds=[0, 1])
    dry = smk.run(fresh, "-n", configfiles=_from_runs(smk, two_seeds), check=True).stdout
    assert smk.job_counts(dry) == REPORT_ONLY, dry[-3000:]
    notices = [line for line in dry.splitlines() if "left out of the report" in line]
    assert len(notices) == 1, dry[-3000:]
    assert "2 of the 4 runs" in notices[0]
    assert "baseline/default/seed1, dynamic_rcnn/default/seed1" in notices[0]

    # COCO family on a machine without COCO (dataset.root points nowhere) and without GPUs
    coco = tmp_path / "coco"
    _finished_tree(coco, family="coco_r50_fpn_1x", dataset="coco", arms=("baseline", "dla", "dsl", "dynamic_rcnn"))
    dry = smk.run(coco, "-n", configfiles=_from_runs(smk, smk.configs / "coco_1x.yaml"), check=True).stdout
    assert smk.job_counts(dry) == REPORT_ONLY, dry[-3000:]
    assert "check_dataset" not in dry and "--val-ann" not in dry


def test_no_run_folder_is_one_error(tmp_path, smk):
    proc = smk.run(tmp_path, "-n", configfiles=_from_runs(smk, smk.configs / "tiny.yaml"))
    assert proc.returncode != 0
    assert "report.from_runs: none of the 2 runs of this config has its metrics.json" in proc.stdout, proc.stdout
