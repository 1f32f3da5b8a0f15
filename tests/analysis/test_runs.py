import json

import pytest

from analysis.runs import RunOutputError, load_runs, read_detections


def test_load_runs_reads_every_run(fixture_tree):
    runs = load_runs(fixture_tree['runs'], family='synthetic', dataset='synthetic')
    assert [r.name for r in runs] == [
        'baseline/default/seed0', 'baseline/default/seed1', 'baseline/default/seed2',
        'dla/default/seed0', 'dla/default/seed1', 'dla/default/seed2',
        'dsl/default/seed0', 'dsl/default/seed1',
        'dynamic_rcnn/default/seed0', 'dynamic_rcnn/ki50-kb10-c100/seed0', 'dynamic_rcnn/ki50-kb10-c100/seed1']
    base = runs[0]
    assert base.metrics['AP'] == pytest.approx(0.30)
    assert base.metrics['AP@0.90'] == pytest.approx(0.34)
    assert set(base.train.columns) >= {'step', 'loss', 'dynrcnn/iou_thr', 'dynrcnn/beta', 'dynrcnn/pos_per_img'}
    assert list(base.val['step']) == [1, 2]
    assert sorted(base.detections) == [1, 2]
    # COCOeval's -1 (undefined) becomes NaN
    assert runs[8].metrics['APS'] != runs[8].metrics['APS']


def _expect_error(runs_dir, *fragments, **kwargs):
    with pytest.raises(RunOutputError) as info:
        load_runs(runs_dir, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_missing_metrics_names_run_and_file(runs_copy):
    (runs_copy / 'dla' / 'default' / 'seed1' / 'metrics.json').unlink()
    _expect_error(runs_copy, 'run dla/default/seed1', 'metrics.json', 'missing')


def test_corrupt_metrics_json(runs_copy):
    (runs_copy / 'dsl' / 'default' / 'seed0' / 'metrics.json').write_text('{"run": ')
    _expect_error(runs_copy, 'run dsl/default/seed0', 'metrics.json', 'not valid JSON')


def test_metric_out_of_range(runs_copy):
    path = runs_copy / 'baseline' / 'default' / 'seed2' / 'metrics.json'
    data = json.loads(path.read_text())
    data['metrics']['AP'] = 37.0  # a percentage where a fraction is expected
    path.write_text(json.dumps(data))
    _expect_error(runs_copy, 'run baseline/default/seed2', 'metrics.AP is 37.0', 'fraction')


def test_missing_per_iou_key(runs_copy):
    path = runs_copy / 'baseline' / 'default' / 'seed0' / 'metrics.json'
    data = json.loads(path.read_text())
    del data['metrics']['AP_at_iou']['0.90']
    path.write_text(json.dumps(data))
    _expect_error(runs_copy, 'run baseline/default/seed0', 'AP_at_iou', '0.90')


def test_folder_mismatch(runs_copy):
    path = runs_copy / 'dla' / 'default' / 'seed2' / 'metrics.json'
    data = json.loads(path.read_text())
    data['run']['seed'] = 7
    path.write_text(json.dumps(data))
    _expect_error(runs_copy, 'run dla/default/seed2', 'run.seed is 7')


def test_corrupt_scalars_line(runs_copy):
    path = runs_copy / 'dynamic_rcnn' / 'default' / 'seed0' / 'scalars.json'
    lines = path.read_text().splitlines()
    lines[3] = lines[3][:-5]
    path.write_text('\n'.join(lines) + '\n')
    _expect_error(runs_copy, 'run dynamic_rcnn/default/seed0', 'scalars.json', 'line 4')


def test_missing_scalars(runs_copy):
    (runs_copy / 'baseline' / 'default' / 'seed0' / 'scalars.json').unlink()
    _expect_error(runs_copy, 'run baseline/default/seed0', 'scalars.json', 'missing')


def test_dataset_and_family_checked(fixture_tree):
    _expect_error(fixture_tree['runs'], 'run.dataset is \'synthetic\'', '--dataset', dataset='coco')
    _expect_error(fixture_tree['runs'], 'run.family is \'synthetic\'', '--family', family='coco_r50_fpn_1x')


def test_unknown_arm_and_empty_dir(runs_copy, tmp_path):
    (runs_copy / 'cascade').mkdir()
    _expect_error(runs_copy, 'unknown arm folder \'cascade\'')
    (tmp_path / 'empty').mkdir()
    _expect_error(tmp_path / 'empty', 'no runs found')
    _expect_error(tmp_path / 'absent', 'does not exist')


def test_variant_must_match_hyperparameters(runs_copy):
    path = runs_copy / 'dynamic_rcnn' / 'ki50-kb10-c100' / 'seed1' / 'metrics.json'
    data = json.loads(path.read_text())
    data['run']['hyperparameters']['iou_topk'] = 60
    path.write_text(json.dumps(data))
    _expect_error(runs_copy, 'run dynamic_rcnn/ki50-kb10-c100/seed1', 'do not match the variant folder')


def test_corrupt_detections(tmp_path):
    path = tmp_path / 'epoch_1.bbox.json'
    path.write_text('[{"image_id": 1, "bbox": [0, 0, 1], "score": 0.5}]')
    with pytest.raises(RunOutputError, match=r'run x/default/seed0: .*epoch_1\.bbox\.json: entry 0'):
        read_detections(path, 'x/default/seed0')


def test_scalars_without_training_lines(runs_copy):
    path = runs_copy / 'dla' / 'default' / 'seed0' / 'scalars.json'
    path.write_text('{"coco/bbox_mAP": 0.3, "step": 1}\n')
    _expect_error(runs_copy, 'run dla/default/seed0', 'scalars.json', 'no training iterations logged')
