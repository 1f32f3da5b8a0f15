"""End to end through the real `snakemake` command: the tiny configuration (configs/pipeline/tiny.yaml: baseline and
dynamic_rcnn, one seed, two epochs) plus two controls, the static endpoint and a fixed beta. The static control's
training waits for the full run, and the values it trained with (its run record) are the full run's final ones.
Run alone with `pytest -m e2e tests/workflow/test_e2e_controls.py` (a few minutes on 2 CPU cores)."""

import pytest

from dynrcnn import run_record as rr

FAMILY_RUNS = "results/runs/synthetic"


@pytest.mark.e2e
def test_static_endpoint_and_fixed_beta_controls(tmp_path, smk):
    work = tmp_path / "pipeline"
    work.mkdir()
    # no per-epoch detections (the controls' report figures do not need them): a shorter test
    controls = smk.write_config(
        tmp_path / "controls.yaml",
        controls={"betas": [0.5], "static_endpoint": True},
        evaluate={"epoch_detections": False},
    )
    proc = smk.run(work, "--cores", "2", configfiles=[smk.configs / "tiny.yaml", controls], timeout=1800)
    assert proc.returncode == 0, proc.stdout[-5000:]
    runs = work / FAMILY_RUNS

    # the static control's values: the full run's of the same seed at its end, read from its scalars.json
    step, final = rr.final_dynamic_values(runs / "dynamic_rcnn/default/seed0" / rr.SCALARS_FILE)
    assert final["iou_thr"] != 0.5 and final["beta"] != 1.0  # the full run did move them
    static = runs / "baseline/static/seed0"
    endpoint = rr.read_endpoint(static / rr.ENDPOINT_FILE)
    assert (endpoint["run"], endpoint["step"], endpoint["values"]) == ("dynamic_rcnn/default/seed0", step, final)
    record = rr.read_metrics(static / rr.METRICS_FILE, expect=dict(arm="baseline", variant="static", seed=0))
    control = record["run"]["control"]
    assert (control["kind"], control["loss"]) == ("static", "SmoothL1Loss")
    assert (control["iou_thr"], control["beta"]) == (final["iou_thr"], final["beta"])
    assert control["endpoint"] == dict(run="dynamic_rcnn/default/seed0", step=step, **final)
    manifest = rr.read_manifest(static)
    # the manifest records them with the training's cfg options
    assert {f"{k}={v}" for k, v in rr.control_cfg_options(**final).items()} <= set(manifest["cfg_options"])
    # the training held them fixed from the first iteration (the baseline arm: DLA and DSL off)
    train, _ = rr.read_scalars(static / rr.SCALARS_FILE)
    assert {(line["dynrcnn/iou_thr"], line["dynrcnn/beta"]) for line in train} == {(final["iou_thr"], final["beta"])}

    # the fixed beta
    beta = runs / "baseline/beta0.5/seed0"
    control = rr.read_metrics(beta / rr.METRICS_FILE)["run"]["control"]
    assert control == dict(kind="beta", iou_thr=0.5, beta=0.5, loss="SmoothL1Loss")
    train, _ = rr.read_scalars(beta / rr.SCALARS_FILE)
    assert {(line["dynrcnn/iou_thr"], line["dynrcnn/beta"]) for line in train} == {(0.5, 0.5)}
    assert "beta=0.5" in (beta / rr.CONFIG_FILE).read_text()  # the resolved config (the baseline's: 1.0)
    # the baseline itself is untouched by the controls
    assert rr.read_metrics(runs / "baseline/default/seed0" / rr.METRICS_FILE)["run"].get("control") is None

    # everything is up to date: a second invocation has nothing to do
    again = smk.run(work, "-n", configfiles=[smk.configs / "tiny.yaml", controls], check=True)
    assert "Nothing to be done" in again.stdout
