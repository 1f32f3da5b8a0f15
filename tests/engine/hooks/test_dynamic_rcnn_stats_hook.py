"""DynamicRCNNStatsHook with a real mmengine Runner training a tiny Faster
R-CNN on CPU: the scalar log (``vis_data/scalars.json``) and resume."""

import glob
import json
import os.path as osp
import uuid

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.utils import register_all_modules
from mmengine.dataset import pseudo_collate
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from torch.utils.data import DataLoader, Dataset

import dynrcnn.engine  # noqa: F401
import dynrcnn.models  # noqa: F401
from dynrcnn.models.roi_heads.ablation_roi_head import AblationRoIHead
from dynrcnn.testing import dynamic_rcnn_model_cfg

register_all_modules()
torch.set_num_threads(1)

IMG = 64
ARMS = dict(
    baseline=dict(dynamic_label=False, dynamic_loss=False),
    dla=dict(dynamic_label=True, dynamic_loss=False),
    dsl=dict(dynamic_label=False, dynamic_loss=True),
    dynamic_rcnn=dict(dynamic_label=True, dynamic_loss=True),
)


class TinyDetDataset(Dataset):
    """Noise images with 1-3 boxes each, fixed by the index."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        n = 1 + idx % 3
        xy = torch.rand(n, 2, generator=g) * (IMG - 32)
        boxes = torch.cat([xy, xy + 12 + torch.rand(n, 2, generator=g) * 18], dim=1)
        sample = DetDataSample(
            metainfo=dict(img_id=idx, img_shape=(IMG, IMG), ori_shape=(IMG, IMG), scale_factor=(1.0, 1.0))
        )
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.randint(0, 2, (n,), generator=g))
        image = (torch.rand(3, IMG, IMG, generator=g) * 255).to(torch.uint8)
        return dict(inputs=image, data_samples=sample)


def tiny_faster_rcnn(**dynamic):
    """MMDetection's Dynamic R-CNN model, narrowed to ResNet-18 at width 8."""
    # small K and a high beta ceiling so that an untrained RPN's proposals
    # still move both values
    dyn = dict(iou_topk=2, beta_topk=2, update_iter_interval=3, initial_iou=0.4, initial_beta=3.0)
    dyn.update(dynamic)
    model = dynamic_rcnn_model_cfg("AblationRoIHead", depth=18, base_channels=8, neck_channels=8, num_classes=2, **dyn)
    # Few proposals, all of them sampled: no RNG in the RoI head, so a
    # resumed run can be compared number for number.
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=50)
    model.train_cfg.rcnn.sampler.update(num=512, pos_fraction=1.0)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    return model


def make_runner(work_dir, name, max_epochs, load_from=None, resume=True, **dynamic):
    loader = DataLoader(TinyDetDataset(), batch_size=2, shuffle=False, collate_fn=pseudo_collate)
    # MessageHub and Visualizer are process-wide instances looked up by name
    name = f"{name}_{uuid.uuid4().hex[:8]}"
    return Runner(
        model=tiny_faster_rcnn(**dynamic),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=loader,
        # lr 0: the proposals stay the same, so the threshold trajectory is
        # a function of the data and of the head's state only
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.0, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            logger=dict(type="LoggerHook", interval=1), checkpoint=dict(type="CheckpointHook", interval=1)
        ),
        custom_hooks=[dict(type="DynamicRCNNStatsHook")],
        visualizer=dict(type="Visualizer", vis_backends=[dict(type="LocalVisBackend")], name=name),
        default_scope="mmdet",
        load_from=load_from,
        resume=resume and load_from is not None,
        randomness=dict(seed=0),
    )


def read_scalars(work_dir):
    (path,) = glob.glob(osp.join(str(work_dir), "*", "vis_data", "scalars.json"))
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("arm", list(ARMS))
def test_scalar_log_in_every_arm(tmp_path, arm):
    runner = make_runner(tmp_path, f"log_{arm}", max_epochs=1, **ARMS[arm])
    runner.train()
    lines = [x for x in read_scalars(tmp_path) if "loss" in x]
    assert [x["step"] for x in lines] == [1, 2, 3, 4]
    for x in lines:
        assert {"dynrcnn/iou_thr", "dynrcnn/beta", "dynrcnn/pos_per_img", "loss_cls", "loss_bbox"} <= set(x)
        assert ("dynrcnn/iou_stat" in x) == ARMS[arm]["dynamic_label"]
        assert ("dynrcnn/beta_stat" in x) == ARMS[arm]["dynamic_loss"]
    head = runner.model.roi_head
    # update after iteration 3: logged there only, applied from iteration 4
    for key, switch, new in [("iou_thr", "dynamic_label", head.iou_thr), ("beta", "dynamic_loss", head.beta)]:
        on = ARMS[arm][switch]
        assert [f"dynrcnn/updated_{key}" in x for x in lines] == [False, False, on, False]
        values = [x[f"dynrcnn/{key}"] for x in lines]
        assert values[:3] == [0.5 if key == "iou_thr" else 1.0] * 3
        if on:
            assert lines[2][f"dynrcnn/updated_{key}"] == pytest.approx(values[3]) == pytest.approx(new)
        else:
            assert values[3] == values[0]  # constant line
    if ARMS[arm]["dynamic_label"]:
        # the logged raw statistics are the ones the update averaged
        stats = [x["dynrcnn/iou_stat"] for x in lines[:3]]
        assert lines[2]["dynrcnn/updated_iou_thr"] == pytest.approx(max(0.4, sum(stats) / 3))


def _trajectory(lines):
    return [(x["step"], x["dynrcnn/iou_thr"], x["dynrcnn/beta"]) for x in lines if "loss" in x]


@pytest.mark.parametrize("restore", [True, False])
def test_resume_follows_uninterrupted_trajectory(tmp_path, restore, monkeypatch):
    make_runner(tmp_path / "full", "full", max_epochs=2).train()
    full = _trajectory(read_scalars(tmp_path / "full"))
    # interrupted after epoch 1 (iteration 4: one update done, one
    # iteration pending), then resumed from its checkpoint
    make_runner(tmp_path / "cut", "cut1", max_epochs=1).train()
    if not restore:  # control: what a resume without the state gives
        monkeypatch.setattr(AblationRoIHead, "load_dynamic_state", lambda self, state: None)
    make_runner(tmp_path / "resumed", "cut2", max_epochs=2, load_from=str(tmp_path / "cut" / "epoch_1.pth")).train()
    resumed = _trajectory(read_scalars(tmp_path / "resumed"))
    assert [s for s, _, _ in resumed] == [5, 6, 7, 8]
    # updates after iterations 3 and 6 move both values
    assert len({(t, b) for _, t, b in full}) == 3
    same = resumed == pytest.approx(full[4:], abs=1e-9)
    assert same == restore


def test_state_not_restored_for_a_new_training(tmp_path):
    """``load_from`` without resume starts a new training at iteration 0:
    the checkpoint's dynamic state is ignored."""
    make_runner(tmp_path / "a", "a", max_epochs=1).train()
    make_runner(tmp_path / "b", "b", max_epochs=1, resume=False, load_from=str(tmp_path / "a" / "epoch_1.pth")).train()
    lines = [x for x in read_scalars(tmp_path / "b") if "loss" in x]
    assert [x["dynrcnn/iou_thr"] for x in lines[:3]] == [0.5] * 3


class _Logger:
    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


class _Runner:
    def __init__(self, work_dir="", iteration=0):
        self.logger, self.work_dir, self.iter = _Logger(), str(work_dir), iteration


def _state(value, records):
    return dict(
        pos_iou_thr=value,
        neg_iou_thr=value,
        min_pos_iou=value,
        beta=value,
        iou_history=torch.tensor(records, dtype=torch.float64),
        beta_history=torch.tensor(records, dtype=torch.float64),
        pending_iters=len(records),
        statistics="mmdet",
    )


def _head(sync):
    head = AblationRoIHead.__new__(AblationRoIHead)
    head.dynamic_cfg = dict(sync_across_ranks=sync)
    return head


@pytest.mark.parametrize("sync", [False, True])
def test_each_rank_takes_its_own_state_back(monkeypatch, sync):
    """A checkpoint of 2 ranks resumed with 2 ranks: rank r gets entry r (the pending records included)."""
    from dynrcnn.engine.hooks import dynamic_rcnn_stats_hook as module

    loaded = dict(version=2, complete=True, ranks=[{"h": _state(0.5, [0.1])}, {"h": _state(0.6, [0.2])}])
    monkeypatch.setattr(module, "get_world_size", lambda: 2)
    for rank in (0, 1):
        monkeypatch.setattr(module, "get_rank", lambda rank=rank: rank)
        runner = _Runner()
        own = module.DynamicRCNNStatsHook._own_state(runner, loaded, {"h": _head(sync)})
        assert own["h"] is loaded["ranks"][rank]["h"] and not runner.logger.warnings


@pytest.mark.parametrize("sync", [False, True])
def test_another_world_size_keeps_one_copy_of_pending_records_with_sync(monkeypatch, sync):
    """A checkpoint of 1 rank resumed with 2 ranks: both take rank 0's values; with sync_across_ranks the pending
    records stay on rank 0 only (the next update gathers them once), with a warning."""
    from dynrcnn.engine.hooks import dynamic_rcnn_stats_hook as module

    loaded = {"h": _state(0.55, [0.1, 0.2])}  # version 1 (before per-rank states): one process's heads
    monkeypatch.setattr(module, "get_world_size", lambda: 2)
    pending = []
    for rank in (0, 1):
        monkeypatch.setattr(module, "get_rank", lambda rank=rank: rank)
        runner = _Runner()
        own = module.DynamicRCNNStatsHook._own_state(runner, loaded, {"h": _head(sync)})["h"]
        assert own["pos_iou_thr"] == own["beta"] == 0.55 and own["pending_iters"] == 2
        assert runner.logger.warnings and "1 rank(s)" in runner.logger.warnings[0]
        pending.append(own["iou_history"].numel())
    assert pending == ([2, 0] if sync else [2, 2])


def test_rank_log_is_cut_after_the_resumed_iteration(tmp_path, monkeypatch):
    from dynrcnn.engine.hooks import dynamic_rcnn_stats_hook as module

    monkeypatch.setattr(module, "get_rank", lambda: 1)
    path = tmp_path / "dynrcnn_rank1.jsonl"
    path.write_text("".join(json.dumps(dict(iter=i, iou_thr=0.5)) + "\n" for i in range(1, 8)))
    hook = module.DynamicRCNNStatsHook(rank_log=True)
    hook._start_rank_log(_Runner(tmp_path, iteration=4))  # resumed at iteration 4: a killed attempt logged 5-7
    assert [json.loads(line)["iter"] for line in path.read_text().splitlines()] == [1, 2, 3, 4]
    hook._start_rank_log(_Runner(tmp_path, iteration=0))  # a new training starts an empty log
    assert path.read_text() == ""
    monkeypatch.setattr(module, "get_world_size", lambda: 1)
    module.DynamicRCNNStatsHook()._start_rank_log(_Runner(tmp_path / "none"))  # one process: no log by default
    assert not (tmp_path / "none").exists()
