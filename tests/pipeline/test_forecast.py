"""The cost forecast: iterations x s/iteration x GPUs per run of a config's whole plan, the measured wall time next
to it when the train jobs' benchmark files exist."""

import importlib.util
import json
import math
from pathlib import Path

import pytest

from dynrcnn import run_record
from dynrcnn.pipeline import forecast

# the arm configs inherit mmdet:: bases, which mmengine reads as files of the installed package
pytestmark = pytest.mark.skipif(importlib.util.find_spec("mmdet") is None, reason="mmdet is not installed")

REPO = Path(__file__).resolve().parents[2]
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")


def test_coco_1x_forecast_from_a_given_speed(capsys):
    assert forecast.main([str(REPO / "configs" / "pipeline" / "coco_1x.yaml"), "--spi", "0.216"]) == 0
    text = capsys.readouterr().out
    per_epoch = math.ceil(forecast.COCO_TRAIN_IMAGES / 16)  # 8 GPUs x 2 images
    assert per_epoch == 7330  # the author's iterations per epoch (facts file 1.5)
    iters = 12 * per_epoch
    gpu_h = iters * 0.216 * 8 / 3600
    assert f"| baseline/default/seed0 | {iters} | {iters * 0.216 / 3600:.3f} | {gpu_h:.1f} | n/a |" in text
    assert f"| **total** | 12 | {12 * gpu_h:.1f} |" in text
    assert "Forecast of coco_r50_fpn_1x (12 trainings, 8 GPUs each, 0.216 s/iteration (given))" in text


def test_the_whole_plan_counts_controls(tmp_path):
    from dynrcnn.pipeline import build, load

    config = load(str(REPO / "configs" / "pipeline" / "coco_1x_controls.yaml"))
    plan = build(config, check_data=False)
    rows = forecast.forecast(plan, 0.2)
    assert len(rows) == len(plan.runs) > 12
    assert sum(r["gpu_h"] for r in rows) == pytest.approx(sum(r["iterations"] for r in rows) * 0.2 * 8 / 3600)


def test_synthetic_default_from_measured_runs_next_to_the_measured_wall_time(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    lines = [dict(step=i, loss=1.0, time=5.0 if i < 2 else 0.4) for i in range(1, 21)]  # slow warm-up
    (run / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    bench = tmp_path / "results/benchmarks/train/synthetic/dla/default/seed1.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\tmax_rss\n90.5\t0:01:30\t900\n")
    argv = [str(REPO / "configs" / "pipeline" / "default.yaml"), "--measured", str(run)]
    assert forecast.main(argv) == 0
    text = capsys.readouterr().out
    assert "0.4 s/iteration (median over 1 measured runs)" in text
    assert f"| dla/default/seed1 | 450 | {450 * 0.4 / 3600:.3f} | 0.0 | {90.5 / 3600:.3f} |" in text
    assert "| dla/default/seed0 | 450 |" in text and f"{90.5 / 3600:.3f} (1 of 4)" in text


def test_a_speed_that_is_not_positive_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        forecast.main([str(REPO / "configs" / "pipeline" / "default.yaml"), "--spi", "0"])
    assert exc.value.code == 2 and "--spi must be > 0" in capsys.readouterr().err


def test_measured_wall_time_falls_back_to_the_manifest(tmp_path, monkeypatch, capsys):
    """A run made before the benchmark files existed: the wall time its training recorded in train_manifest.json."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    lines = [dict(step=i, loss=1.0, time=0.4) for i in range(1, 21)]
    (run / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    folder = tmp_path / run_record.run_dir("synthetic", "dsl", "default", 2)
    folder.mkdir(parents=True)
    manifest = {key: None for key in run_record.MANIFEST_KEYS}
    manifest.update(checkpoint="ckpt.pth", work_dir="w", epoch_checkpoints={}, wall_time_s=180.0)
    (folder / run_record.MANIFEST_FILE).write_text(json.dumps(manifest))
    argv = [str(REPO / "configs" / "pipeline" / "default.yaml"), "--measured", str(run)]
    assert forecast.main(argv) == 0
    text = capsys.readouterr().out
    assert f"| dsl/default/seed2 | 450 | {450 * 0.4 / 3600:.3f} | 0.0 | {180.0 / 3600:.3f} |" in text
    assert f"{180.0 / 3600:.3f} (1 of 4)" in text
