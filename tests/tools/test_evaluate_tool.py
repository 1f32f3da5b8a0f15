"""dynrcnn.tools.evaluate on given detections: the metrics.json contract and its atomic write."""
import json

import numpy as np
import pytest

import dynrcnn.tools.evaluate as evaluate_tool
from dynrcnn.evaluation.coco_metrics import evaluate_detections


def _make_run(tmp_path, with_block=True):
    rng = np.random.default_rng(0)
    images, anns, dets = [], [], []
    for img_id in range(1, 6):
        images.append(dict(id=img_id, file_name=f'{img_id}.png', width=100, height=100))
        for k in range(3):
            x, y, w = float(rng.uniform(0, 50)), float(rng.uniform(0, 50)), float(rng.uniform(20, 45))
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=1, bbox=[x, y, w, w], area=w * w,
                             iscrowd=0))
            dets.append(dict(image_id=img_id, category_id=1, bbox=[x + rng.normal(0, 2), y, w, w],
                             score=float(rng.uniform(0.2, 1))))
    ann = tmp_path / 'val.json'
    ann.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name='box')])))
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(dets))
    run = tmp_path / 'run'
    (run / 'detections').mkdir(parents=True)
    block = 'dynamic_rcnn=dict(iou_topk=50, beta_topk=8, update_iter_interval=20)' if with_block else ''
    (run / 'config.py').write_text(f"model = dict(train_cfg=dict(rcnn=dict({block})))\n"
                                   f"val_evaluator = dict(type='CocoMetric', ann_file={str(ann)!r})\n")
    (run / 'train_manifest.json').write_text(json.dumps(dict(
        config_sha256='ab' * 32, checkpoint='/w/epoch_2.pth', work_dir='/w', seed=3, device='cpu', gpus=0,
        images_per_gpu=2, lr=0.02, base_lr=0.02, threads=1, wall_time_s=12.5, max_epochs=2)))
    return run, str(ann), str(det_file)


ARGS = ['--family', 'synthetic', '--arm', 'dynamic_rcnn', '--variant', 'ki50-kb8-c20', '--seed', '3']


def test_metrics_json_has_the_contract(tmp_path):
    run, ann, dets = _make_run(tmp_path)
    evaluate_tool.main(['--run-dir', str(run), '--detections', dets] + ARGS)
    record = json.loads((run / 'metrics.json').read_text())
    assert record['run'] == dict(family='synthetic', arm='dynamic_rcnn', variant='ki50-kb8-c20', seed=3,
                                 dataset='synthetic',
                                 hyperparameters=dict(iou_topk=50, beta_topk=8, update_iter_interval=20))
    assert record['metrics'] == evaluate_detections(ann, dets)
    assert set(record['metrics']) == {'AP', 'AP50', 'AP75', 'APS', 'APM', 'APL', 'AP_at_iou'}
    assert 0 < record['metrics']['AP'] < 1
    prov = record['provenance']
    for key in ('git_commit', 'config_sha256', 'packages', 'seed', 'device', 'wall_time_s', 'gpus',
                'images_per_gpu', 'lr'):
        assert key in prov, key
    assert prov['seed'] == 3 and prov['wall_time_s'] == 12.5 and prov['config_sha256'] == 'ab' * 32
    assert {'torch', 'mmdet', 'mmcv', 'mmengine', 'pycocotools', 'numpy'} <= set(prov['packages'])
    # the evaluated detections are kept next to the metrics
    assert json.loads((run / 'detections' / 'final.bbox.json').read_text()) == json.loads(open(dets).read())


def test_missing_dynamic_rcnn_block_gives_nulls(tmp_path):
    run, _, dets = _make_run(tmp_path, with_block=False)
    evaluate_tool.main(['--run-dir', str(run), '--detections', dets] + ARGS)
    record = json.loads((run / 'metrics.json').read_text())
    assert record['run']['hyperparameters'] == dict(iou_topk=None, beta_topk=None, update_iter_interval=None)


def test_a_crash_leaves_no_metrics_file(tmp_path, monkeypatch):
    run, _, dets = _make_run(tmp_path)

    def crash(*args, **kwargs):
        raise RuntimeError('simulated crash during the evaluation')

    monkeypatch.setattr(evaluate_tool, 'package_versions', crash)
    with pytest.raises(RuntimeError, match='simulated crash'):
        evaluate_tool.main(['--run-dir', str(run), '--detections', dets] + ARGS)
    assert not (run / 'metrics.json').exists()
    assert not [p for p in run.iterdir() if p.name.startswith('.metrics.json')]  # no temp file left


def test_unfinished_training_is_named(tmp_path):
    run, _, dets = _make_run(tmp_path)
    (run / 'train_manifest.json').unlink()
    with pytest.raises(FileNotFoundError, match='training of this run has not finished'):
        evaluate_tool.main(['--run-dir', str(run), '--detections', dets] + ARGS)
