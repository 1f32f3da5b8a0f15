import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from dynrcnn.evaluation.coco_metrics import ap_at_iou, evaluate_detections
from dynrcnn.run_record import IOU_KEYS


def _write_gt(path, rng, num_images=6, size=200, with_small=True):
    images, anns = [], []
    aid = 1
    for img_id in range(1, num_images + 1):
        images.append(dict(id=img_id, file_name=f"{img_id}.png", width=size, height=size))
        for _ in range(rng.integers(2, 5)):
            # medium/large boxes, plus an occasional small one
            w = float(rng.uniform(40, 120)) if not (with_small and rng.random() < 0.2) else float(rng.uniform(8, 20))
            h = float(rng.uniform(0.5, 1.5) * w)
            x, y = float(rng.uniform(0, size - w)), float(rng.uniform(0, max(1, size - h)))
            anns.append(
                dict(
                    id=aid,
                    image_id=img_id,
                    category_id=int(rng.integers(1, 3)),
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=0,
                )
            )
            aid += 1
    cats = [dict(id=1, name="a"), dict(id=2, name="b")]
    with open(path, "w") as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)
    return anns


def _jittered_dets(anns, rng, noise):
    dets = []
    for a in anns:
        x, y, w, h = a["bbox"]
        j = rng.normal(0, noise, 4) * np.array([w, h, w, h])
        dets.append(
            dict(
                image_id=a["image_id"],
                category_id=a["category_id"],
                bbox=[x + j[0], y + j[1], max(1.0, w + j[2]), max(1.0, h + j[3])],
                score=float(rng.uniform(0.3, 1.0)),
            )
        )
        # a false positive per object
        dets.append(
            dict(
                image_id=a["image_id"],
                category_id=3 - a["category_id"],
                bbox=[x, y, w * 0.5, h * 0.5],
                score=float(rng.uniform(0, 0.6)),
            )
        )
    return dets


def _reference_stats(ann_file, dets):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


@pytest.mark.parametrize("noise", [0.02, 0.08])
def test_summary_and_per_iou_agree_with_cocoeval(tmp_path, noise):
    rng = np.random.default_rng(0)
    ann_file = str(tmp_path / "gt.json")
    anns = _write_gt(ann_file, rng)
    dets = _jittered_dets(anns, rng, noise)
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))

    metrics = evaluate_detections(ann_file, str(det_file))
    ref = _reference_stats(ann_file, dets)

    for i, key in enumerate(["AP", "AP50", "AP75", "APS", "APM", "APL"]):
        assert metrics[key] == pytest.approx(ref.stats[i], abs=1e-12), key
    per_iou = metrics["AP_at_iou"]
    assert list(per_iou) == ["0.50", "0.55", "0.60", "0.65", "0.70", "0.75", "0.80", "0.85", "0.90", "0.95"]
    assert per_iou["0.50"] == pytest.approx(ref.stats[1], abs=1e-12)
    assert per_iou["0.75"] == pytest.approx(ref.stats[2], abs=1e-12)
    # AP is the mean over the ten thresholds
    assert np.mean(list(per_iou.values())) == pytest.approx(ref.stats[0], abs=1e-12)
    # a non-trivial case: localisation noise makes AP fall with the threshold
    assert per_iou["0.50"] > per_iou["0.90"]
    assert 0 < metrics["AP"] < 1


def test_lookup_by_position_reads_ap90(tmp_path):
    rng = np.random.default_rng(1)
    ann_file = str(tmp_path / "gt.json")
    anns = _write_gt(ann_file, rng, with_small=False)
    dets = _jittered_dets(anns, rng, 0.03)
    ev = _reference_stats(ann_file, dets)
    thrs = ev.params.iouThrs
    assert 0.9 not in list(thrs)  # the pitfall this lookup avoids
    idx = int(np.argmin(np.abs(thrs - 0.9)))
    p = ev.eval["precision"][idx, :, :, 0, 2]
    assert ap_at_iou(ev)["0.90"] == pytest.approx(float(np.mean(p[p > -1])))
    assert IOU_KEYS[idx] == "0.90"


def test_reads_the_maxdets_100_column_not_the_last(tmp_path):
    rng = np.random.default_rng(2)
    ann_file = str(tmp_path / "gt.json")
    anns = _write_gt(ann_file, rng, with_small=False)
    # many low-score duplicates so that maxDets 1 and 100 differ
    dets = _jittered_dets(anns, rng, 0.05) * 3
    ev = _reference_stats(ann_file, dets)
    ref = ap_at_iou(ev, max_dets=100)
    with contextlib.redirect_stdout(io.StringIO()):
        ev.params.maxDets = [1, 100, 1000]  # MMDetection-like: 100 is not the last column
        ev.evaluate()
        ev.accumulate()
    assert ap_at_iou(ev, max_dets=100) == pytest.approx(ref)
    assert ap_at_iou(ev, max_dets=1) != pytest.approx(ref)
    with pytest.raises(ValueError, match="max_dets"):
        ap_at_iou(ev, max_dets=7)


def test_other_iou_thresholds_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    ann_file = str(tmp_path / "gt.json")
    anns = _write_gt(ann_file, rng, with_small=False)
    ev = _reference_stats(ann_file, _jittered_dets(anns, rng, 0.05))
    ev.params.iouThrs = ev.params.iouThrs[:5]  # keys by position would name them wrongly
    with pytest.raises(ValueError, match="IoU thresholds"):
        ap_at_iou(ev)


def test_undefined_area_stays_minus_one(tmp_path):
    rng = np.random.default_rng(3)
    ann_file = str(tmp_path / "gt.json")
    anns = _write_gt(ann_file, rng, with_small=False)
    metrics = evaluate_detections(ann_file, _jittered_dets(anns, rng, 0.02))
    assert metrics["APS"] == -1.0
    assert metrics["APM"] >= 0


def test_no_detections_gives_zero_not_error(tmp_path):
    rng = np.random.default_rng(4)
    ann_file = str(tmp_path / "gt.json")
    _write_gt(ann_file, rng, with_small=False)
    metrics = evaluate_detections(ann_file, [])
    assert metrics["AP"] == 0.0
    assert set(metrics["AP_at_iou"].values()) == {0.0}


def test_bad_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset.root"):
        evaluate_detections(str(tmp_path / "missing.json"), [])
    rng = np.random.default_rng(5)
    ann_file = str(tmp_path / "gt.json")
    _write_gt(ann_file, rng)
    with pytest.raises(TypeError, match="list of COCO result dicts"):
        evaluate_detections(ann_file, {"bbox": []})
