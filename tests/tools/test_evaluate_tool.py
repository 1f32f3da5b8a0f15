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


class _FakeRunner:
    """Stands in for the mmengine test runner: each test writes detections tagged with checkpoint and image count."""

    def __init__(self, dets, checkpoint, max_images, template, scratch):
        self.dets, self.checkpoint, self.max_images, self.template = dets, checkpoint, max_images, template
        self.scratch = scratch  # eval (final checkpoint) or eval_epochs: tells a copy of the final detections apart
        self.test_loop = self

    def test(self):
        self.run()

    def load_checkpoint(self, path):
        self.checkpoint = path

    def run(self):
        tag = f'{self.checkpoint.rsplit("/", 1)[-1]}|{self.max_images}'
        with open(self.dets, 'w') as f:
            json.dump([dict(d, tag=tag, scratch=self.scratch) for d in self.template], f)


def _fake_inference(monkeypatch, det_file):
    template = json.loads(open(det_file).read())

    def build(cfg, checkpoint, work_dir, max_images=None):
        import os
        os.makedirs(work_dir, exist_ok=True)
        dets = f'{work_dir}/dets.bbox.json'
        return _FakeRunner(dets, checkpoint, max_images, template, os.path.basename(work_dir)), dets

    monkeypatch.setattr(evaluate_tool, 'build_test_runner', build)


def _epoch_run(tmp_path, monkeypatch):
    """A run with checkpoints of epochs 1-3; the training validated epoch 2 (full val split)."""
    run, _, det_file = _make_run(tmp_path)
    work = tmp_path / 'work'
    work.mkdir()
    for epoch in (1, 2, 3):
        (work / f'epoch_{epoch}.pth').write_bytes(b'')
    manifest = json.loads((run / 'train_manifest.json').read_text())
    manifest.update(work_dir=str(work), checkpoint=str(work / 'epoch_3.pth'), max_epochs=3,
                    epoch_detections=['epoch_2.bbox.json'])
    (run / 'train_manifest.json').write_text(json.dumps(manifest))
    (run / 'detections' / 'epoch_2.bbox.json').write_text(json.dumps([dict(training=2)]))
    _fake_inference(monkeypatch, det_file)
    return run, manifest


def _tags(run, epoch):
    return {d.get('tag') for d in json.loads((run / 'detections' / f'epoch_{epoch}.bbox.json').read_text())}


def test_epoch_detections_follow_max_images_and_keep_the_trainings(tmp_path, monkeypatch):
    run, manifest = _epoch_run(tmp_path, monkeypatch)
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=2) == [1, 3]
    assert _tags(run, 1) == {'epoch_1.pth|2'} and _tags(run, 3) == {'epoch_3.pth|2'}
    record = json.loads((run / 'detections' / evaluate_tool.EPOCH_RECORD).read_text())
    assert record == {'1': dict(source='evaluate', max_images=2), '3': dict(source='evaluate', max_images=2)}
    # same settings: nothing to redo
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=2) == []
    # other settings: the evaluation's own files are redone, the training's validation is kept
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=4) == [1, 3]
    assert _tags(run, 1) == {'epoch_1.pth|4'} and _tags(run, 3) == {'epoch_3.pth|4'}
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=None) == [1, 3]
    assert _tags(run, 3) == {'epoch_3.pth|None'}
    assert json.loads((run / 'detections' / 'epoch_2.bbox.json').read_text()) == [dict(training=2)]
    record = json.loads((run / 'detections' / evaluate_tool.EPOCH_RECORD).read_text())
    assert record['1'] == record['3'] == dict(source='evaluate', max_images=None) and '2' not in record


def test_unrecorded_or_missing_epoch_files_are_detected(tmp_path, monkeypatch):
    run, manifest = _epoch_run(tmp_path, monkeypatch)
    # a file an earlier evaluation left without a record, and a record whose file is gone
    (run / 'detections' / 'epoch_1.bbox.json').write_text(json.dumps([dict(old=1)]))
    (run / 'detections' / evaluate_tool.EPOCH_RECORD).write_text(json.dumps(
        {'3': dict(source='evaluate', max_images=2), '5': dict(source='evaluate', max_images=2)}))
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=2) == [1, 3]
    assert _tags(run, 1) == {'epoch_1.pth|2'}
    # only the files that are there stay recorded
    assert set(json.loads((run / 'detections' / evaluate_tool.EPOCH_RECORD).read_text())) == {'1', '3'}


def test_main_copies_the_final_detections_for_the_last_epoch_only_with_the_same_images(tmp_path, monkeypatch):
    run, _ = _epoch_run(tmp_path, monkeypatch)
    base = ['--run-dir', str(run), '--epoch-detections'] + ARGS
    evaluate_tool.main(base + ['--epoch-max-images', '2'])
    assert _tags(run, 3) == {'epoch_3.pth|2'}
    evaluate_tool.main(base)  # whole val split: epoch 3 is the final checkpoint, its detections are copied
    final = json.loads((run / 'detections' / 'final.bbox.json').read_text())
    assert json.loads((run / 'detections' / 'epoch_3.bbox.json').read_text()) == final
    assert _tags(run, 1) == {'epoch_1.pth|None'}
    record = json.loads((run / 'detections' / evaluate_tool.EPOCH_RECORD).read_text())
    assert record['3'] == dict(source='evaluate', max_images=None)
    evaluate_tool.main(base + ['--epoch-max-images', '2'])
    assert _tags(run, 3) == {'epoch_3.pth|2'} and _tags(run, 1) == {'epoch_1.pth|2'}
    assert json.loads((run / 'detections' / 'epoch_2.bbox.json').read_text()) == [dict(training=2)]


def test_manifest_without_epoch_list_keeps_unrecorded_files(tmp_path, monkeypatch):
    run, manifest = _epoch_run(tmp_path, monkeypatch)
    del manifest['epoch_detections']  # an older manifest: unrecorded files are the training's
    assert evaluate_tool.detect_epochs(None, manifest, str(run), max_images=2) == [1, 3]
    assert json.loads((run / 'detections' / 'epoch_2.bbox.json').read_text()) == [dict(training=2)]
