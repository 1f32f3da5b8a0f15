"""The report CLI: fixed outputs, no torch, clear errors, captions for snakemake --report."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import report

REPO = Path(__file__).resolve().parents[2]


def cli_args(fixture_tree, runs, out, dataset='synthetic', family='synthetic'):
    return ['--runs-dir', str(runs), '--out-dir', str(out), '--family', family, '--dataset', dataset,
            '--val-ann', str(fixture_tree['val_ann']), '--val-images', str(fixture_tree['val_images'])]


def written(out):
    return {p.relative_to(out).as_posix() for p in Path(out).rglob('*') if p.is_file()}


def test_cli_writes_every_output_without_torch(fixture_tree, tmp_path):
    out = tmp_path / 'reports' / 'synthetic'
    code = ('import sys; from analysis.report import main; rc = main(sys.argv[1:]); '
            'heavy = sorted(m for m in ("torch", "mmdet", "mmcv", "mmengine") if m in sys.modules); '
            'print("HEAVY", heavy); sys.exit(rc)')
    proc = subprocess.run([sys.executable, '-c', code, *cli_args(fixture_tree, fixture_tree['runs'], out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'HEAVY []' in proc.stdout
    assert 'from 11 runs (default variant: baseline n=3, dla n=3, dsl n=2, dynamic_rcnn n=1)' in proc.stdout
    assert written(out) == set(report.OUTPUTS)
    assert (out / 'tables' / 'ablation.md').read_text(encoding='utf-8').startswith('## Component ablation')


def test_output_set_is_fixed_without_sweeps_or_ground_truth(fixture_tree, tmp_path):
    runs = Path(fixture_tree['runs_nosweep'])
    before = {p: p.stat().st_mtime_ns for p in runs.rglob('*')}
    out = tmp_path / 'out'
    assert report.main(['--runs-dir', str(runs), '--out-dir', str(out),
                        '--family', 'synthetic', '--dataset', 'synthetic']) == 0
    assert written(out) == set(report.OUTPUTS)
    assert 'no sweep runs' in (out / 'tables' / 'sweeps.md').read_text(encoding='utf-8')
    # it only reads the runs: nothing under the runs folder changed
    assert {p: p.stat().st_mtime_ns for p in runs.rglob('*')} == before


def test_missing_run_file_fails_before_writing(runs_copy, fixture_tree, tmp_path, capsys):
    (runs_copy / 'dla' / 'default' / 'seed2' / 'scalars.json').unlink()
    out = tmp_path / 'out'
    assert report.main(cli_args(fixture_tree, runs_copy, out)) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: run dla/default/seed2: ') and 'scalars.json: missing' in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_corrupt_detection_file_names_run_and_file(runs_copy, fixture_tree, tmp_path, capsys):
    (runs_copy / 'dsl' / 'default' / 'seed0' / 'detections' / 'epoch_2.bbox.json').write_text('[{"image_id": 1,')
    assert report.main(cli_args(fixture_tree, runs_copy, tmp_path / 'out')) == 2
    err = capsys.readouterr().err
    assert 'run dsl/default/seed0' in err and 'epoch_2.bbox.json: not valid JSON' in err


def test_dataset_mismatch(fixture_tree, tmp_path, capsys):
    assert report.main(cli_args(fixture_tree, fixture_tree['runs'], tmp_path / 'o', dataset='coco')) == 2
    assert "run.dataset is 'synthetic' but the report was asked for 'coco'" in capsys.readouterr().err


def test_missing_val_annotation(fixture_tree, tmp_path, capsys):
    args = cli_args(fixture_tree, fixture_tree['runs'], tmp_path / 'o')
    args[args.index('--val-ann') + 1] = str(tmp_path / 'none.json')
    assert report.main(args) == 2
    assert '--val-ann' in capsys.readouterr().err


def test_required_arguments(capsys):
    with pytest.raises(SystemExit):
        report.main(['--runs-dir', 'x'])
    assert '--out-dir, --family, --dataset' in capsys.readouterr().err


def test_outputs_and_categories_cover_the_same_files():
    assert set(report.OUTPUTS) == set(report.CATEGORIES)
    assert all(report.OUTPUTS[k] for k in report.OUTPUTS)
    stems = {Path(k).stem for k in report.OUTPUTS}
    assert {'ablation', 'breakdown', 'gains', 'sweeps', 'dynamics_iou_beta', 'positives_per_image', 'ap_vs_iou',
            'training_curves', 'sample_detections_1'} <= stems
    assert len(report.OUTPUTS) == 3 * len(report.TABLE_CAPTIONS) + 2 * len(report.FIGURE_CAPTIONS)


def test_write_captions(tmp_path):
    assert report.main(['--write-captions', str(tmp_path)]) == 0
    for output, caption in report.OUTPUTS.items():
        rst = tmp_path / f'{report.caption_stem(output)}.rst'
        assert rst.read_text(encoding='utf-8').strip() == caption


def test_metrics_json_contract_example(fixture_tree):
    """The fixture follows the shared metrics.json contract the pipeline writes."""
    data = json.loads((fixture_tree['runs'] / 'dla' / 'default' / 'seed0' / 'metrics.json').read_text())
    assert set(data) == {'run', 'metrics', 'provenance'}
    assert set(data['run']) == {'family', 'arm', 'variant', 'seed', 'dataset', 'hyperparameters'}
    assert set(data['metrics']['AP_at_iou']) == {f'{t / 100:.2f}' for t in range(50, 100, 5)}


def test_captions_are_clean_restructuredtext(tmp_path):
    docutils_core = pytest.importorskip('docutils.core', reason='docutils comes with snakemake')
    import io
    for path in report.write_captions(tmp_path):
        warnings = io.StringIO()
        docutils_core.publish_parts(path.read_text(encoding='utf-8'), writer='html',
                                    settings_overrides={'warning_stream': warnings, 'report_level': 1})
        assert warnings.getvalue() == '', f'{path.name}: {warnings.getvalue()}'
