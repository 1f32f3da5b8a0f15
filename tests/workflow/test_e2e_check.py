"""The acceptance check end to end through Snakemake on the synthetic family: the check config (two of its arms)
passes every gate; a deliberately diverging run fails the named gate with a one-line reason, and snakemake exits
non-zero."""

import csv

import pytest

pytestmark = pytest.mark.e2e


def _verdicts(workdir, family="synthetic"):
    with open(workdir / "reports" / f"{family}_check" / "check.csv", newline="") as f:
        return {(r["gate"], r["arm"]): (r["verdict"], r["reason"]) for r in csv.DictReader(f)}


def test_synthetic_check_passes(tmp_path, smk, default_synthetic_dataset):
    # check.yaml's dataset is the default's: the session's copy, reused as a rerun reuses it (same parameters)
    (tmp_path / "results" / "data").mkdir(parents=True)
    (tmp_path / "results" / "data" / "synthetic").symlink_to(default_synthetic_dataset)
    # check.yaml with two of its arms, half its trainings: the arm with the dynamic threshold and one without (the
    # identical-start gate compares them); the iterations stay (the trajectory gate needs the reference's 100 ... 300)
    config = smk.write_config(tmp_path / "check_two_arms.yaml", base="check.yaml", arms=["baseline", "dynamic_rcnn"])
    proc = smk.run(tmp_path, "--cores", "2", configfiles=[config], timeout=3600)
    assert proc.returncode == 0, proc.stdout[-5000:]
    verdicts = _verdicts(tmp_path)
    assert {v for v, _ in verdicts.values()} == {"PASS", "INFO"}
    assert verdicts[("trajectory", "dynamic_rcnn")][0] == "PASS"
    assert (tmp_path / "results" / "check" / "synthetic.passed").exists()


def test_a_diverging_run_fails_the_finite_gate(tmp_path, smk):
    config = smk.write_config(
        tmp_path / "broken.yaml",
        base="check.yaml",
        arms=["dynamic_rcnn"],
        dataset=dict(name="synthetic", synthetic=dict(num_train=40, num_val=4, image_size=96, seed=0)),
        check=dict(enabled=True, iterations=20, loss_window=5),
        train=dict(cfg_options=["optim_wrapper.optimizer.lr=1000.0", "optim_wrapper.clip_grad=None"]),
    )
    proc = smk.run(tmp_path, "--cores", "2", configfiles=[config], timeout=1800)
    assert proc.returncode != 0
    verdict, reason = _verdicts(tmp_path)[("finite", "dynamic_rcnn")]
    assert verdict == "FAIL" and reason.startswith("loss") and " at iteration " in reason and "\n" not in reason
    assert "FAIL finite (dynamic_rcnn)" in proc.stdout
    assert not (tmp_path / "results" / "check" / "synthetic.passed").exists()
