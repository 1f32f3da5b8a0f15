"""AblationRoIHead against MMDetection's own StandardRoIHead and
DynamicRoIHead, run side by side on the same inputs and RNG."""

import copy
import math
import pickle

import pytest
import torch

from dynrcnn.models.roi_heads import ablation_roi_head as arh

torch.set_num_threads(1)


def assert_same_losses(rec_a, rec_b):
    assert rec_a["losses"].keys() == rec_b["losses"].keys()
    for key in rec_a["losses"]:
        assert torch.equal(rec_a["losses"][key], rec_b["losses"][key]), key


@pytest.mark.parametrize("interval", [2, 3])
def test_both_on_matches_dynamic_roi_head(roi, batches, interval):
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead", update_iter_interval=interval)
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g["thr"] == pytest.approx(w["thr"], abs=1e-6), i
        assert g["beta"] == pytest.approx(w["beta"], abs=1e-6), i
        assert_same_losses(g, w)
    # the comparison covers real updates (after iterations C, 2C, ...)
    num_values = 1 + (len(batches) - 1) // interval
    assert len({round(r["thr"], 9) for r in want}) == num_values
    assert len({round(r["beta"], 9) for r in want}) == num_values
    updates = [i for i, r in enumerate(got) if "updated_iou_thr" in r["log"]]
    assert updates == list(range(interval - 1, len(batches), interval))


def test_state_dict_and_copies_like_mmdet_heads(roi, batches):
    """Same parameters as DynamicRoIHead (MMDetection checkpoints load
    strictly); deep copies and pickles (EMA hooks, spawn) keep working."""
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead")
    assert ours.state_dict().keys() == ref.state_dict().keys()
    ours.load_state_dict(ref.state_dict(), strict=True)
    roi.run_iters(ours, batches[:4])
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert clone.bbox_assigner.assigner is not ours.bbox_assigner.assigner
        assert clone.iou_thr == ours.iou_thr != 0.5
        assert clone.pending_iters == ours.pending_iters == 1
        clone.bbox_assigner.pos_iou_thr = 0.7
        assert clone.bbox_assigner.assigner.pos_iou_thr == 0.7
        assert clone.iou_thr == 0.7 and ours.iou_thr != 0.7


def test_both_off_is_standard_roi_head(roi, batches, monkeypatch):
    ours, ref = roi.build_heads("AblationRoIHead", "StandardRoIHead", dynamic_label=False, dynamic_loss=False)

    def no_statistics(*args, **kwargs):
        raise AssertionError("statistics computed with both switches off")

    monkeypatch.setattr(arh.AblationRoIHead, "_statistics", no_statistics)
    monkeypatch.setattr(arh.AblationRoIHead, "update_hyperparameters", no_statistics)
    assert not isinstance(ours.bbox_assigner, arh._RecordingAssigner)
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    for g, w in zip(got, want):
        assert_same_losses(g, w)
        assert (g["thr_after"], g["beta_after"]) == (0.5, 1.0)
        assert set(g["log"]) == {"iou_thr", "beta", "pos_per_img"}


def test_dla_only_moves_threshold_keeps_beta(roi, batches):
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead", dynamic_loss=False)
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    # The IoU statistic does not depend on beta: same thresholds as mmdet's.
    for g, w in zip(got, want):
        assert g["thr"] == pytest.approx(w["thr"], abs=1e-6)
        assert g["beta"] == 1.0
        assert "beta_stat" not in g["log"] and "iou_stat" in g["log"]
    assert got[-1]["thr"] > 0.5


def test_dsl_only_moves_beta_keeps_threshold(roi, batches):
    # initial_iou=0.5 with a large K_I pins mmdet's threshold at 0.5
    # (max(0.5, mean below 0.5)), which makes DynamicRoIHead the reference
    # for the DSL-only arm.
    cfg = dict(iou_topk=40, initial_iou=0.5)
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead", dynamic_label=False, **cfg)
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    for g, w in zip(got, want):
        assert w["thr"] == 0.5 and g["thr"] == 0.5
        assert g["beta"] == pytest.approx(w["beta"], abs=1e-6)
        assert_same_losses(g, w)
        assert "iou_stat" not in g["log"] and "beta_stat" in g["log"]
    assert got[-1]["beta"] < 1.0


# ----------------------------------------------------------------------
# 'official' semantics against a transcription of the authors' rule


def _iou_matrix(a, b):
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _official_reference(batches, iou_topk, beta_topk, interval, initial_iou=0.4, initial_beta=1.0):
    """The authors' train.py / network.py / proposal_target_opr.py rule:
    ground truths appended to the proposals, a proposal matched to its best
    ground truth if that IoU >= threshold else to ground truth 0, batch-level
    (K x images)-th statistics, T = max(0.4, mean), beta = min(1, upper
    median)."""
    thr, beta = initial_iou, initial_beta
    s_iou, s_err, out = [], [], []
    for _, props, samples in batches:
        ious, errs = [], []
        for prop, sample in zip(props, samples):
            gts = sample.gt_instances.bboxes
            if len(gts) == 0:
                continue
            boxes = torch.cat([gts, prop.bboxes])
            overlaps = _iou_matrix(boxes, gts)
            best, argbest = overlaps.max(dim=1)
            matched = torch.where(best >= thr, argbest, torch.zeros_like(argbest))
            ious.append(overlaps[torch.arange(len(boxes)), matched])
            g = gts[matched]
            pw, ph = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            dx = ((g[:, 0] + g[:, 2]) - (boxes[:, 0] + boxes[:, 2])) / 2 / pw
            dy = ((g[:, 1] + g[:, 3]) - (boxes[:, 1] + boxes[:, 3])) / 2 / ph
            errs.append((dx.abs() / 0.1 + dy.abs() / 0.1) / 2)
        ious = sorted(torch.cat(ious).tolist(), reverse=True)
        errs = sorted(torch.cat(errs).tolist())
        n = len(samples)
        rec = dict(
            thr=thr,
            beta=beta,
            iou_stat=ious[min(iou_topk * n, len(ious)) - 1],
            beta_stat=errs[min(beta_topk * n, len(errs)) - 1],
        )
        s_iou.append(rec["iou_stat"])
        s_err.append(rec["beta_stat"])
        if len(s_iou) == interval:
            thr = max(sum(s_iou) / interval, initial_iou)
            beta = min(sorted(s_err)[interval // 2], initial_beta)
            s_iou, s_err = [], []
        out.append(rec)
    return out


@pytest.mark.parametrize("interval", [2, 3])
def test_official_statistics_match_transcription(roi, batches, interval):
    (head,) = roi.build_heads("AblationRoIHead", statistics="official", update_iter_interval=interval)
    got = roi.run_iters(head, batches)
    want = _official_reference(batches, 5, 6, interval)
    assert got[0]["thr"] == 0.4  # initial_iou from the first iteration
    for i, (g, w) in enumerate(zip(got, want)):
        assert g["thr"] == pytest.approx(w["thr"], abs=1e-6), i
        assert g["beta"] == pytest.approx(w["beta"], abs=1e-6), i
        assert float(g["log"]["iou_stat"]) == pytest.approx(w["iou_stat"], abs=1e-6), i
        assert float(g["log"]["beta_stat"]) == pytest.approx(w["beta_stat"], abs=1e-5), i
    assert len({round(w["thr"], 6) for w in want}) > 1
    assert len({round(w["beta"], 6) for w in want}) > 1


def test_official_differs_from_mmdet(roi, batches):
    """The two semantics are really different rules on the same data."""
    (off,) = roi.build_heads("AblationRoIHead", statistics="official")
    (mm,) = roi.build_heads("AblationRoIHead")
    a, b = roi.run_iters(off, batches), roi.run_iters(mm, batches)
    assert a[-1]["thr"] != pytest.approx(b[-1]["thr"], abs=1e-3)


# ----------------------------------------------------------------------
# host-device synchronisation


SYNC_METHODS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__")


@pytest.fixture
def sync_counter(monkeypatch):
    """Counts calls of the Tensor methods that read a value on the host."""
    counts = {"n": 0}
    for name in SYNC_METHODS:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, __original=original, **kwargs):
            counts["n"] += 1
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    return counts


def _syncs_per_iter(head, batches, counter):
    """Host reads made by ``head.loss`` in each iteration."""
    out = []
    for i, (x, props, samples) in enumerate(batches):
        torch.manual_seed(1000 + i)
        before = counter["n"]
        head.loss(x, copy.deepcopy(props), samples)
        out.append(counter["n"] - before)
    return out


def test_no_host_sync_in_non_update_iterations(roi, batches, sync_counter):
    ours, std, dyn = roi.build_heads("AblationRoIHead", "StandardRoIHead", "DynamicRoIHead")
    # Before the first update all three heads see the same thresholds, so
    # MMDetection's own reads (sampler, bbox head) are the same in each.
    n_ours = _syncs_per_iter(ours, batches[:6], sync_counter)
    n_std = _syncs_per_iter(std, batches[:2], sync_counter)
    n_dyn = _syncs_per_iter(dyn, batches[:2], sync_counter)
    # iterations 1, 2 (no update): not one read more than StandardRoIHead
    assert n_ours[:2] == n_std
    # the counter sees DynamicRoIHead's per-image .item() calls
    assert all(d > s for d, s in zip(n_dyn, n_std))
    # iterations 4, 5 (no update, after one): as many as iterations 1, 2;
    # update iterations 3 and 6 read once
    assert n_ours[3:5] == n_ours[:2]
    assert n_ours[2] == n_ours[0] + 1 and n_ours[5] == n_ours[0] + 1


# ----------------------------------------------------------------------
# edge cases (side by side with DynamicRoIHead where it defines them)


def test_image_without_ground_truth(roi):
    batches = [roi.make_batch(s, num_gts=(3, 0)) for s in range(6)]
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead")
    for g, w in zip(roi.run_iters(ours, batches), roi.run_iters(ref, batches)):
        assert g["thr"] == pytest.approx(w["thr"], abs=1e-6)
        assert g["beta"] == pytest.approx(w["beta"], abs=1e-6)
        assert_same_losses(g, w)
    (off,) = roi.build_heads("AblationRoIHead", statistics="official")
    got = roi.run_iters(off, batches)
    want = _official_reference(batches, 5, 6, 3)
    for g, w in zip(got, want):
        assert float(g["log"]["iou_stat"]) == pytest.approx(w["iou_stat"], abs=1e-6)


def test_fewer_proposals_than_iou_topk(roi):
    batches = [roi.make_batch(s, num_props=6) for s in range(6)]
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead", iou_topk=100, beta_topk=100)
    for g, w in zip(roi.run_iters(ours, batches), roi.run_iters(ref, batches)):
        assert g["thr"] == pytest.approx(w["thr"], abs=1e-6)
        assert g["beta"] == pytest.approx(w["beta"], abs=1e-6)
    (off,) = roi.build_heads("AblationRoIHead", statistics="official", iou_topk=100, beta_topk=100)
    got = roi.run_iters(off, batches)  # k clipped to the proposal count
    assert got[-1]["thr"] == pytest.approx(_official_reference(batches, 100, 100, 3)[-1]["thr"], abs=1e-6)


def test_batch_without_positives(roi):
    # no ground truth anywhere: no positives, no beta statistic
    batches = [roi.make_batch(s, num_gts=(0,)) for s in range(3)]
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead")
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    for g, w in zip(got, want):
        assert g["log"]["pos_per_img"] == 0
        assert "beta_stat" not in g["log"]
        assert g["beta_after"] == w["beta_after"] == 1.0
        assert g["thr_after"] == pytest.approx(w["thr_after"], abs=1e-6)
    (off,) = roi.build_heads("AblationRoIHead", statistics="official")
    got = roi.run_iters(off, batches)
    assert "iou_stat" not in got[-1]["log"]
    assert (got[-1]["thr_after"], got[-1]["beta_after"]) == (0.4, 1.0)


def test_tiny_median_keeps_previous_beta(roi, batches):
    # beta_topk=1: the (1 x 2)-th smallest target is a ground truth's 0
    ours, ref = roi.build_heads("AblationRoIHead", "DynamicRoIHead", beta_topk=1)
    got, want = roi.run_iters(ours, batches), roi.run_iters(ref, batches)
    assert all(float(g["log"]["beta_stat"]) < arh.EPS for g in got)
    for g, w in zip(got, want):
        assert g["beta_after"] == w["beta_after"] == 1.0
        assert g["thr_after"] == pytest.approx(w["thr_after"], abs=1e-6)


@pytest.mark.parametrize(
    "key,value",
    [
        ("iou_topk", 0),
        ("iou_topk", -3),
        ("iou_topk", 2.5),
        ("beta_topk", 0),
        ("beta_topk", -1),
        ("update_iter_interval", 0),
        ("update_iter_interval", -10),
        ("initial_iou", 0.0),
        ("initial_iou", 1.0),
        ("initial_iou", 1.5),
        ("initial_beta", 0.0),
        ("initial_beta", -1.0),
        ("dynamic_label", "yes"),
        ("statistics", "paper"),
        ("sync_across_ranks", 1),
    ],
)
def test_invalid_settings_rejected_at_build(roi, key, value):
    from mmdet.registry import MODELS

    with pytest.raises(ValueError, match=rf"train_cfg\.rcnn\.dynamic_rcnn\.{key}"):
        MODELS.build(roi.head_cfg(**{key: value}))


def test_unknown_key_and_missing_section_rejected(roi):
    from mmdet.registry import MODELS

    with pytest.raises(ValueError, match="dynamic_lable"):
        MODELS.build(roi.head_cfg(dynamic_lable=False))
    cfg = roi.head_cfg()
    del cfg.train_cfg["dynamic_rcnn"]
    with pytest.raises(ValueError, match=r"train_cfg\.rcnn\.dynamic_rcnn"):
        MODELS.build(cfg)
    cfg = roi.head_cfg()
    cfg.bbox_head.loss_bbox = dict(type="L1Loss")
    with pytest.raises(ValueError, match="loss_bbox"):
        MODELS.build(cfg)
    # an L1 head is fine when DSL is off
    cfg.train_cfg.dynamic_rcnn.dynamic_loss = False
    assert math.isnan(MODELS.build(cfg).beta)


def test_mmdet_dynamic_rcnn_config_with_only_type_changed(roi):
    """MMDetection's own Dynamic R-CNN config, only the head type changed:
    the settings read are DynamicRoIHead's and the switches default on."""
    import os.path as osp

    import mmdet
    from mmdet.registry import MODELS
    from mmengine.config import Config

    model = Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), ".mim", "configs", "dynamic_rcnn", "dynamic-rcnn_r50_fpn_1x_coco.py")
    ).model
    cfg = model.roi_head
    cfg.update(train_cfg=model.train_cfg.rcnn, test_cfg=model.test_cfg.rcnn)
    assert cfg.type == "DynamicRoIHead"
    cfg.type = "AblationRoIHead"
    head = MODELS.build(cfg)
    assert head.dynamic_cfg == dict(
        iou_topk=75,
        beta_topk=10,
        update_iter_interval=100,
        initial_iou=0.4,
        initial_beta=1.0,
        dynamic_label=True,
        dynamic_loss=True,
        statistics="mmdet",
        sync_across_ranks=False,
    )
    assert (head.iou_thr, head.beta) == (0.5, 1.0)
    test_cfg = cfg.copy()
    test_cfg.pop("train_cfg")
    assert MODELS.build(test_cfg).dynamic_cfg is None  # a test-only model


def test_dynamic_state_round_trip_respects_switches(roi, batches):
    (src,) = roi.build_heads("AblationRoIHead", statistics="official")
    roi.run_iters(src, batches[:4])  # one update, one pending iteration
    state = src.dynamic_state()
    assert state["pending_iters"] == 1 and state["iou_history"].numel() == 1
    (full,) = roi.build_heads("AblationRoIHead", statistics="official")
    full.load_dynamic_state(state)
    assert (full.iou_thr, full.beta) == (src.iou_thr, src.beta)
    # continuing from the restored state = continuing the original
    a, b = roi.run_iters(src, batches[4:], 4), roi.run_iters(full, batches[4:], 4)
    assert [(r["thr"], r["beta"]) for r in a] == [(r["thr"], r["beta"]) for r in b]
    # a DLA-only head takes the thresholds, not beta
    (dla,) = roi.build_heads("AblationRoIHead", statistics="official", dynamic_loss=False)
    dla.load_dynamic_state(state)
    assert dla.iou_thr == state["pos_iou_thr"] and dla.beta == 1.0
    assert dla.num_beta_records == 0 and dla.num_iou_records == 1
