"""The report CLI: fixed outputs, only the given runs, no torch, clear errors, the previous report kept on a
failure, captions for snakemake --report."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import outputs, report
from dynrcnn import run_record
from tests.analysis import fake_runs
from tests.analysis.fake_runs import report_args

REPO = Path(__file__).resolve().parents[2]
CAPTIONS = REPO / "workflow" / "report" / "captions"


def cli_args(fixture_tree, runs, out, dataset="synthetic", family="synthetic"):
    return report_args(runs) + [
        "--out-dir",
        str(out),
        "--family",
        family,
        "--dataset",
        dataset,
        "--val-ann",
        str(fixture_tree["val_ann"]),
        "--val-images",
        str(fixture_tree["val_images"]),
    ]


def written(out):
    return {p.relative_to(out).as_posix() for p in Path(out).rglob("*") if p.is_file()}


def snapshot(folder):
    """Every file under ``folder`` with its bytes and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file()
    }


def test_cli_writes_every_output_without_torch(fixture_tree, tmp_path):
    out = tmp_path / "reports" / "synthetic"
    code = (
        "import sys; from analysis.report import main; rc = main(sys.argv[1:]); "
        'heavy = sorted(m for m in ("torch", "mmdet", "mmcv", "mmengine") if m in sys.modules); '
        'print("HEAVY", heavy); sys.exit(rc)'
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *cli_args(fixture_tree, fixture_tree["runs"], out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    assert "from 11 runs (default variant: baseline n=3, dla n=3, dsl n=2, dynamic_rcnn n=1)" in proc.stdout
    assert written(out) == set(report.OUTPUTS)
    assert (out / "tables" / "ablation.md").read_text(encoding="utf-8").startswith("## Component ablation")
    page = (out / "SUMMARY.md").read_text(encoding="utf-8")
    assert page.startswith("# Does the paper reproduce here?") and "| DLA + DSL improves AP | +1.9 [v] |" in page


def test_output_set_is_fixed_without_sweeps_or_ground_truth(fixture_tree, tmp_path):
    runs = Path(fixture_tree["runs_nosweep"])
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("*")}
    out = tmp_path / "out"
    assert (
        report.main(report_args(runs) + ["--out-dir", str(out), "--family", "synthetic", "--dataset", "synthetic"]) == 0
    )
    assert written(out) == set(report.OUTPUTS)
    assert "no sweep runs" in (out / "tables" / "sweeps.md").read_text(encoding="utf-8")
    # it only reads the runs: nothing under the runs folder changed
    assert {p: p.stat().st_mtime_ns for p in runs.rglob("*")} == before


def test_missing_run_file_fails_before_writing(runs_copy, fixture_tree, tmp_path, capsys):
    (runs_copy / "dla" / "default" / "seed2" / "scalars.json").unlink()
    out = tmp_path / "out"
    assert report.main(cli_args(fixture_tree, runs_copy, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: run dla/default/seed2: ") and "scalars.json: missing" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "runs"]  # no temporary folder left behind


def test_failed_report_keeps_the_previous_one(runs_copy, fixture_tree, tmp_path, capsys):
    """A report that fails on one bad run record leaves the last good report byte for byte as it was."""
    out = tmp_path / "report" / "synthetic"
    assert report.main(cli_args(fixture_tree, runs_copy, out)) == 0
    before = snapshot(out)
    assert set(before) == set(report.OUTPUTS)
    (runs_copy / "dla" / "default" / "seed1" / "metrics.json").write_text('{"run": {"arm": "dla"}')
    assert report.main(cli_args(fixture_tree, runs_copy, out)) == 2
    assert "run dla/default/seed1" in capsys.readouterr().err
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["synthetic"]  # no temporary folder left behind


def test_a_report_that_breaks_halfway_keeps_the_previous_one(fixture_tree, tmp_path, monkeypatch):
    """The tables are written, then a figure fails: the previous report is untouched (it is built elsewhere)."""
    out = tmp_path / "report" / "synthetic"
    assert report.main(cli_args(fixture_tree, fixture_tree["runs"], out)) == 0
    before = snapshot(out)

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(report.figures, "training_curves_figure", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        report.main(cli_args(fixture_tree, fixture_tree["runs"], out))
    assert snapshot(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["synthetic"]


def test_a_new_report_replaces_the_old_one_whole(fixture_tree, tmp_path):
    out = tmp_path / "report"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "removed_figure.png").write_bytes(b"old")
    assert report.main(cli_args(fixture_tree, fixture_tree["runs"], out)) == 0
    assert written(out) == set(report.OUTPUTS)


def test_out_dir_must_hold_a_report_only(fixture_tree, tmp_path, capsys):
    """The report replaces --out-dir whole, so it refuses a folder that holds anything else."""
    out = tmp_path / "reports"
    (out / "synthetic").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    assert report.main(cli_args(fixture_tree, fixture_tree["runs"], out)) == 2
    assert "holds notes.txt, synthetic" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "synthetic"]


def test_runs_left_from_an_earlier_config_stay_out(fixture_tree, tmp_path, capsys):
    """A seed7 folder left next to the configured runs does not enter the tables: only the given files are read."""
    runs = tmp_path / "runs" / "synthetic"
    shutil.copytree(fixture_tree["runs"], runs)
    configured = cli_args(fixture_tree, runs, tmp_path / "out")
    seed7 = runs / "baseline" / "default" / "seed7"
    shutil.copytree(runs / "baseline" / "default" / "seed0", seed7)
    record = json.loads((seed7 / "metrics.json").read_text())
    record["run"]["seed"] = 7
    (seed7 / "metrics.json").write_text(json.dumps(record))
    out = tmp_path / "out"
    assert report.main(configured) == 0
    assert "baseline n=3," in capsys.readouterr().out
    csv = (out / "tables" / "runs.csv").read_text(encoding="utf-8")
    assert "seed7" not in csv and len(csv.splitlines()) == 1 + 11
    assert "| Baseline (Faster R-CNN) | 3 |" in (out / "tables" / "ablation.md").read_text(encoding="utf-8")
    # its files given, the same run does enter (so the checks above can fail)
    assert report.main(cli_args(fixture_tree, runs, out)) == 0
    assert "baseline n=4," in capsys.readouterr().out
    assert "| Baseline (Faster R-CNN) | 4 |" in (out / "tables" / "ablation.md").read_text(encoding="utf-8")


def test_corrupt_detection_file_names_run_and_file(runs_copy, fixture_tree, tmp_path, capsys):
    (runs_copy / "dsl" / "default" / "seed0" / "epoch_detections" / "epoch_2.bbox.json").write_text('[{"image_id": 1,')
    assert report.main(cli_args(fixture_tree, runs_copy, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "run dsl/default/seed0" in err and "epoch_2.bbox.json: not valid JSON" in err


def test_dataset_mismatch(fixture_tree, tmp_path, capsys):
    assert report.main(cli_args(fixture_tree, fixture_tree["runs"], tmp_path / "o", dataset="coco")) == 2
    assert "run.dataset is 'synthetic' but 'coco' was expected" in capsys.readouterr().err


def test_missing_val_annotation(fixture_tree, tmp_path, capsys):
    args = cli_args(fixture_tree, fixture_tree["runs"], tmp_path / "o")
    args[args.index("--val-ann") + 1] = str(tmp_path / "none.json")
    assert report.main(args) == 2
    assert "--val-ann" in capsys.readouterr().err


def test_required_arguments(capsys):
    with pytest.raises(SystemExit):
        report.main(["--metrics", "x"])
    assert "required: --scalars, --out-dir, --family, --dataset" in capsys.readouterr().err


def test_outputs_and_categories_cover_the_same_files():
    assert set(report.OUTPUTS) == set(report.CATEGORIES)
    assert all(report.OUTPUTS[k] for k in report.OUTPUTS)
    stems = {Path(k).stem for k in report.OUTPUTS}
    assert {
        "ablation",
        "breakdown",
        "gains",
        "sweeps",
        "dynamics_iou_beta",
        "positives_per_image",
        "ap_vs_iou",
        "ap_per_seed",
        "gain_vs_iou",
        "training_curves",
        "sample_detections_1",
        "SUMMARY",
    } <= stems
    assert len(report.OUTPUTS) == 1 + 3 * len(report.TABLE_CAPTIONS) + 2 * len(report.FIGURE_CAPTIONS)
    assert list(report.OUTPUTS)[0] == "SUMMARY.md" and report.CATEGORIES["SUMMARY.md"] == "Summary"


def test_write_captions(tmp_path):
    assert report.main(["--write-captions", str(tmp_path)]) == 0
    for output, caption in report.OUTPUTS.items():
        rst = tmp_path / f"{Path(output).stem}.rst"
        assert rst.read_text(encoding="utf-8").strip() == caption
    assert len(list(tmp_path.iterdir())) == 1 + len(outputs.TABLE_CAPTIONS) + len(outputs.FIGURE_CAPTIONS)


def test_committed_captions_are_the_outputs_captions(tmp_path):
    """workflow/report/captions/ (read by snakemake --report) is what --write-captions writes: regenerate it with
    ``python -m analysis.report --write-captions workflow/report/captions`` after changing analysis/outputs.py."""
    report.write_captions(tmp_path)
    assert snapshot_text(CAPTIONS) == snapshot_text(tmp_path)


def snapshot_text(folder):
    return {p.name: p.read_text(encoding="utf-8") for p in Path(folder).iterdir()}


def test_metrics_json_contract_example(fixture_tree):
    """The fixture follows the shared metrics.json contract the pipeline writes."""
    data = json.loads((fixture_tree["runs"] / "dla" / "default" / "seed0" / "metrics.json").read_text())
    assert run_record.metrics_problem(data) is None
    assert set(data) == {"run", "metrics", "provenance"}
    assert set(data["run"]) == {"family", "arm", "variant", "seed", "dataset", "hyperparameters"}
    assert set(data["metrics"]["AP_at_iou"]) == {f"{t / 100:.2f}" for t in range(50, 100, 5)}


def test_captions_are_clean_restructuredtext(tmp_path):
    docutils_core = pytest.importorskip("docutils.core", reason="docutils comes with snakemake")
    import io

    for path in report.write_captions(tmp_path):
        warnings = io.StringIO()
        docutils_core.publish_parts(
            path.read_text(encoding="utf-8"),
            writer="html",
            settings_overrides={"warning_stream": warnings, "report_level": 1},
        )
        assert warnings.getvalue() == "", f"{path.name}: {warnings.getvalue()}"


def test_coco_family_with_five_seeds_controls_and_sweeps(tmp_path):
    """The whole CLI on a COCO family: 5 seeds per arm, two controls, a sweep variant (fake runs)."""
    runs = tmp_path / "runs" / "coco_r50_fpn_1x"
    coco = dict(dataset="coco", family="coco_r50_fpn_1x")
    for i, arm in enumerate(("baseline", "dla", "dsl", "dynamic_rcnn")):
        for seed in range(5):
            fake_runs.write_run(runs, arm, seed, 0.30 + 0.01 * i + 0.003 * seed + 0.001 * (seed * i % 3), **coco)
    for variant in ("static", "beta0.5"):
        for seed in range(5):
            control = fake_runs.fake_control(variant, (0.58, 0.3) if variant == "static" else None)
            level = 0.325 + 0.002 * seed + 0.001 * (seed % 2)
            fake_runs.write_run(runs, "baseline", seed, level, variant=variant, control=control, **coco)
    hyper = {"iou_topk": 50, "beta_topk": 10, "update_iter_interval": 100}
    for seed in range(2):
        fake_runs.write_run(runs, "dynamic_rcnn", seed, 0.33, variant="ki50-kb10-c100", hyperparameters=hyper, **coco)
    out = tmp_path / "out"
    args = report_args(runs) + ["--out-dir", str(out), "--family", "coco_r50_fpn_1x", "--dataset", "coco"]
    assert report.main(args) == 0
    assert written(out) == set(report.OUTPUTS)
    page = (out / "SUMMARY.md").read_text(encoding="utf-8")
    assert "Baseline (Faster R-CNN) 5" in page and "not about COCO" not in page
    assert "published run SD 0.1–0.3 AP, reported" in page and "static endpoint − DLA + DSL" in page
    assert "| AP Δ |" in (out / "tables" / "ablation.md").read_text(encoding="utf-8")
    sweeps = (out / "tables" / "sweeps.md").read_text(encoding="utf-8")
    assert "| ki50-kb10-c100 |" in sweeps and "(Welch)" in sweeps  # seeds 0, 1 against 0 ... 4: seed sets differ
    controls = (out / "tables" / "controls.md").read_text(encoding="utf-8")
    assert "| Baseline, static endpoint | 5 / 5 |" in controls
