"""The export tool: published weights without optimizer state, named by their sha256, which metrics.json records; the
resolved config beside them; an MMDetection model-index metafile; refusals of a run not evaluated or changed since."""

import hashlib
import json

import pytest
import torch
import yaml

from dynrcnn.tools import evaluate as evaluate_tool
from dynrcnn.tools import export as export_tool

ARGS = ["--family", "synthetic", "--arm", "dla", "--variant", "default", "--seed", "3"]


def _evaluated(tmp_path, make_run, fake_inference):
    run, _, dets = make_run(tmp_path)
    fake_inference(dets)
    evaluate_tool.main(["--run-dir", str(run)] + ARGS)
    return run


def test_export_publishes_weights_named_by_the_sha256_that_metrics_json_records(tmp_path, make_run, fake_inference):
    run = _evaluated(tmp_path, make_run, fake_inference)
    recorded = json.loads((run / "metrics.json").read_text())["provenance"]["weights_sha256"]
    out = tmp_path / "export"
    export_tool.main(["--family", "synthetic", "--out", str(out), str(run)])
    weights = sorted(p.name for p in out.glob("*.pth"))
    assert weights == [f"synthetic_dla_default_seed3-{recorded[:8]}.pth"]
    data = (out / weights[0]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == recorded
    published = torch.load(out / weights[0], weights_only=False)
    full = torch.load(tmp_path / "results" / "work" / "r" / "epoch_2.pth", weights_only=False)
    assert set(published) == {"meta", "state_dict"} and "optimizer" in full  # the optimizer is dropped
    assert torch.equal(published["state_dict"]["w"], full["state_dict"]["w"])
    assert (out / "synthetic_dla_default_seed3.py").read_text() == (run / "config.py").read_text()


def test_metafile_is_mmdetections_model_index(tmp_path, make_run, fake_inference):
    run = _evaluated(tmp_path, make_run, fake_inference)
    record = json.loads((run / "metrics.json").read_text())
    out = tmp_path / "export"
    export_tool.main(["--family", "synthetic", "--out", str(out), str(run)])
    meta = yaml.safe_load((out / "metafile.yml").read_text())
    assert [c["Name"] for c in meta["Collections"]] == ["synthetic"]
    (model,) = meta["Models"]
    assert model["Name"] == "synthetic_dla_default_seed3" and model["In Collection"] == "synthetic"
    assert model["Config"] == "synthetic_dla_default_seed3.py" and (out / model["Config"]).is_file()
    assert (out / model["Weights"]).is_file()
    assert model["Metadata"]["Training Resources"] == "CPU (Test CPU @ 1.00GHz, 1 threads)"
    assert model["Metadata"]["Training Time (h)"] == round(12.5 / 3600, 3)
    assert model["Metadata"]["Epochs"] == 2
    (result,) = model["Results"]
    assert result["Task"] == "Object Detection"
    assert result["Metrics"]["box AP"] == round(100 * record["metrics"]["AP"], 1)


def test_a_checkpoint_changed_after_the_evaluation_is_refused(tmp_path, make_run, fake_inference, capsys):
    run = _evaluated(tmp_path, make_run, fake_inference)
    checkpoint = tmp_path / "results" / "work" / "r" / "epoch_2.pth"
    state = torch.load(checkpoint, weights_only=False)
    state["state_dict"]["w"] += 1
    torch.save(state, checkpoint)
    out = tmp_path / "export"
    with pytest.raises(SystemExit) as exc:
        export_tool.main(["--family", "synthetic", "--out", str(out), str(run)])
    assert "changed after the evaluation" in str(exc.value) and "re-evaluate" in str(exc.value)
    assert not out.exists()  # nothing half-written


def test_a_run_not_evaluated_is_one_error_naming_the_fix(tmp_path, make_run):
    run, _, _ = make_run(tmp_path)
    with pytest.raises(SystemExit) as exc:
        export_tool.main(["--family", "synthetic", "--out", str(tmp_path / "export"), str(run)])
    assert "no metrics.json; evaluate the run first" in str(exc.value)


def test_the_published_bytes_do_not_depend_on_the_file_name(tmp_path, make_run):
    make_run(tmp_path)
    checkpoint = tmp_path / "results" / "work" / "r" / "epoch_2.pth"
    copy = tmp_path / "another-name.pth"
    copy.write_bytes(checkpoint.read_bytes())
    assert export_tool.weights_sha256(str(checkpoint)) == export_tool.weights_sha256(str(copy))
