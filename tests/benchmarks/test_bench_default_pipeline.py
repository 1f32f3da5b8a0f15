"""benchmarks/bench_default_pipeline.py: reading the report job's time and the job counts from Snakemake's log."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_default", REPO / "benchmarks" / "bench_default_pipeline.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

# the shape of a Snakemake 9 log (excerpt of a real run, paths shortened)
LOG = """
[Mon Nov 30 02:58:01 2026]
rule train:
    jobid: 7
Shell command: ... -m dynrcnn.tools.train ...
[Mon Nov 30 02:59:40 2026]
Finished jobid: 7 (Rule: train)
[Mon Nov 30 02:59:41 2026]
rule train:
    jobid: 9
[Mon Nov 30 03:00:24 2026]
localrule report:
    input: results/runs/synthetic/baseline/default/seed0/metrics.json
    output: results/report/synthetic/tables/ablation.md
    jobid: 31
Shell command: ... -m analysis.report ...
[Mon Nov 30 03:00:25 2026]
Finished jobid: 9 (Rule: train)
[Mon Nov 30 03:00:27 2026]
Finished jobid: 31 (Rule: report)
30 of 32 steps (94%) done
"""


def test_report_seconds_from_the_report_jobs_own_lines():
    # the train job that finishes while the report runs does not end the report's interval
    assert bench.report_seconds(LOG) == 3


def test_report_seconds_of_an_older_snakemake_and_of_a_log_without_report():
    old = LOG.replace("Finished jobid: 31 (Rule: report)", "Finished job 31.").replace(
        "Finished jobid: 9 (Rule: train)", "Finished job 9."
    )
    assert bench.report_seconds(old) == 3
    assert bench.report_seconds(LOG.replace("localrule report:", "localrule publish_report:")) is None


def test_job_counts():
    assert bench.count_jobs(LOG, "train") == 2
    assert bench.count_jobs(LOG, "report") == 1
    assert bench.count_jobs(LOG, "evaluate") == 0


def test_configfiles_per_side():
    files = bench.side_configfiles(["headline=configs/pipeline/default.yaml,extra.yaml"], ["old", "headline"])
    assert files == {"headline": ["configs/pipeline/default.yaml", "extra.yaml"]}
    assert bench.snakemake_command(2, files["headline"])[1:] == [
        "--cores",
        "2",
        "--configfile",
        "configs/pipeline/default.yaml",
        "extra.yaml",
    ]
    # a side without files runs its tree's embedded default: no --configfile at all
    assert bench.snakemake_command(2, ())[1:] == ["--cores", "2"]


def test_side_pairs_in_order_with_the_worktree_default():
    assert bench.side_pairs(["old=0cb3cca", "new=worktree"]) == [("old", "0cb3cca"), ("new", "worktree")]
    assert bench.side_pairs(None) == [("new", "worktree")]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["old"], "'old': expected NAME=REF"),
        (["=0cb3cca"], "expected NAME=REF"),
        (["old="], "expected NAME=REF"),
        (["old=0cb3cca", "old=worktree"], "'old' is given twice"),
    ],
)
def test_side_errors_name_the_option(specs, message):
    with pytest.raises(SystemExit, match=message):
        bench.side_pairs(specs)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["headline"], "expected NAME=A.yaml"),
        (["headline="], "expected NAME=A.yaml"),
        (["headline=a.yaml", "headline=b.yaml"], "given twice"),
        (["other=a.yaml"], "'other' is not a side"),
    ],
)
def test_configfiles_errors_name_the_option(specs, message):
    with pytest.raises(SystemExit, match=message):
        bench.side_configfiles(specs, ["old", "headline"])


def test_table_keeps_a_long_side_name_apart_from_its_ref():
    row = dict(ref="b37ecf1", trainings=32, evaluations=32, epoch_detections=4, wall=88.46 * 60, report=16.0)
    header, old, headline = bench.table_lines({"old": dict(row, ref="0cb3cca"), "headline": row})
    assert headline.split()[:3] == ["headline", "b37ecf1", "32"]
    assert old.split()[:2] == ["old", "0cb3cca"] and header.split()[:2] == ["side", "ref"]
    assert headline.split()[-2:] == ["88.46", "16"]
