"""Unit tests of dynrcnn.tools.train that need no training: data paths, lr bookkeeping, scalars merging."""
import json

import pytest
from mmengine.config import Config

from dynrcnn.tools.train import effective_lr, merge_scalars, resume_decision, set_data_paths


def _cfg(**extra):
    ds = dict(type='CocoDataset', data_root='data/elsewhere/', ann_file='a.json', data_prefix=dict(img='x/'))
    return Config(dict(
        train_dataloader=dict(batch_size=2, dataset=dict(type='RepeatDataset', times=2, dataset=dict(ds))),
        val_dataloader=dict(batch_size=1, dataset=dict(ds)),
        test_dataloader=dict(batch_size=1, dataset=dict(ds)),
        val_evaluator=dict(type='CocoMetric', ann_file='data/elsewhere/a.json'),
        test_evaluator=[dict(type='CocoMetric', ann_file='data/elsewhere/a.json'), dict(type='Other')],
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.02)),
        **extra))


@pytest.mark.parametrize('dataset, train_ann, val_ann, val_img', [
    ('synthetic', 'annotations/instances_train.json', 'annotations/instances_val.json', 'val/'),
    ('coco', 'annotations/instances_train2017.json', 'annotations/instances_val2017.json', 'val2017/'),
])
def test_every_loader_and_evaluator_points_at_data_root(dataset, train_ann, val_ann, val_img):
    cfg = _cfg()
    set_data_paths(cfg, '/data/root', dataset)
    inner = cfg.train_dataloader.dataset.dataset  # through the RepeatDataset wrapper
    assert inner.data_root == '/data/root/' and inner.ann_file == train_ann
    for name in ('val_dataloader', 'test_dataloader'):
        ds = cfg[name].dataset
        assert (ds.data_root, ds.ann_file, ds.data_prefix.img) == ('/data/root/', val_ann, val_img)
    assert cfg.val_evaluator.ann_file == f'/data/root/{val_ann}'
    assert cfg.test_evaluator[0].ann_file == f'/data/root/{val_ann}'
    assert 'ann_file' not in cfg.test_evaluator[1]  # not a COCO metric: left alone


def test_bad_layout_and_concat_dataset_are_named():
    with pytest.raises(ValueError, match="unknown dataset layout 'voc'"):
        set_data_paths(_cfg(), 'r', 'voc')
    cfg = _cfg()
    cfg.train_dataloader.dataset = dict(type='ConcatDataset', datasets=[dict(), dict()])
    with pytest.raises(ValueError, match='train_dataloader.dataset is a ConcatDataset'):
        set_data_paths(cfg, 'r', 'synthetic')


def test_effective_lr_follows_auto_scale_lr():
    assert effective_lr(_cfg(), world_size=8) == pytest.approx(0.02)
    cfg = _cfg(auto_scale_lr=dict(enable=True, base_batch_size=16))
    assert effective_lr(cfg, world_size=8) == pytest.approx(0.02)  # 8 x 2 = 16
    assert effective_lr(cfg, world_size=1) == pytest.approx(0.02 * 2 / 16)


def _write_scalars(path, lines):
    path.mkdir(parents=True)
    (path / 'scalars.json').write_text(''.join(json.dumps(d) + '\n' for d in lines))


def test_merge_scalars_of_a_resumed_training(tmp_path):
    # attempt 1 logged iterations 5..15 and validated epoch 1 (10 iterations per epoch), then was killed
    # after iteration 15; attempt 2 resumed from the epoch-1 checkpoint (iteration 10)
    first = [dict(step=s, lr=0.1, loss=1.0 / s) for s in (5, 10)] + [{'coco/bbox_mAP': 0.1, 'step': 1}] + \
        [dict(step=15, lr=0.1, loss=0.5)]
    second = [dict(step=s, lr=0.01, loss=2.0 / s) for s in (15, 20)] + [{'coco/bbox_mAP': 0.2, 'step': 2}]
    _write_scalars(tmp_path / '20260101_000000' / 'vis_data', first)
    _write_scalars(tmp_path / '20260101_010000' / 'vis_data', second)
    merged = merge_scalars(str(tmp_path))
    train = [(d['step'], d['lr']) for d in merged if 'lr' in d]
    assert train == [(5, 0.1), (10, 0.1), (15, 0.01), (20, 0.01)]  # the re-done iteration 15 from attempt 2
    assert [(d['step'], d['coco/bbox_mAP']) for d in merged if 'coco/bbox_mAP' in d] == [(1, 0.1), (2, 0.2)]


def test_merge_scalars_single_attempt_is_a_copy(tmp_path):
    lines = [dict(step=s, lr=0.1, loss=1.0) for s in (5, 10)] + [{'coco/bbox_mAP': 0.3, 'step': 1}]
    _write_scalars(tmp_path / '20260101_000000' / 'vis_data', lines)
    assert merge_scalars(str(tmp_path)) == lines


def test_resume_decision(tmp_path):
    work = tmp_path / 'work'
    assert resume_decision(str(work), 'cfg A') == 'fresh'  # no work dir yet
    work.mkdir()
    (work / 'resolved_config.py').write_text('cfg A')
    assert resume_decision(str(work), 'cfg A') == 'fresh'  # killed before the first checkpoint
    (work / 'epoch_1.pth').write_bytes(b'')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    assert resume_decision(str(work), 'cfg A') == 'resume'
    # checkpoints of another config (e.g. a changed K_I) are never resumed
    assert resume_decision(str(work), 'cfg B') == 'supersede'
    (work / 'resolved_config.py').unlink()
    assert resume_decision(str(work), 'cfg A') == 'supersede'
