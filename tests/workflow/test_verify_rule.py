"""`snakemake verify`: passes on the committed synthetic runs' numbers, exits non-zero (the arm named) on runs moved
outside the tolerance, and leaves no verdict file then."""

import json

import pytest

from analysis.verify import ap_from_runs_csv
from tests.analysis.fake_runs import write_run

pytestmark = pytest.mark.e2e


def test_verify_target_passes_then_fails_on_a_moved_arm(tmp_path, smk):
    ap, _ = ap_from_runs_csv(smk.repo / "reports" / "synthetic" / "tables" / "runs.csv", "synthetic")
    runs = tmp_path / "results" / "runs" / "synthetic"
    for arm, values in ap.items():
        for seed, value in enumerate(values):
            write_run(runs, arm, seed, value / 100, epochs=1)
    # only the gate runs: the fake runs have no trainings behind them
    args = ("--allowed-rules", "verify", "--cores", "1", "verify")
    config = smk.configs / "default.yaml"
    smk.run(tmp_path, *args, configfiles=[config], check=True)
    verdict = tmp_path / "results" / "verify" / "synthetic.md"
    assert verdict.read_text().startswith("Expected results of `synthetic`: PASS")
    verdict.unlink()
    for seed in range(len(ap["dsl"])):
        path = runs / "dsl" / "default" / f"seed{seed}" / "metrics.json"
        record = json.loads(path.read_text())
        record["metrics"]["AP"] += 0.06  # 6 AP points: outside 2.0 AP and the seeds' interval
        path.write_text(json.dumps(record))
    proc = smk.run(tmp_path, *args, configfiles=[config])
    assert proc.returncode != 0
    assert "FAIL: dsl (mean" in proc.stdout and "outside" in proc.stdout
    assert not verdict.exists()
