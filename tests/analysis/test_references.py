"""The shipped reference CSV against the facts file's section 1."""

import re
from pathlib import Path

import pytest

from analysis import references as R

FACTS = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "dynamic_rcnn_facts.md"

ARM_ROWS = {
    "baseline Faster R-CNN": "baseline",
    "+ DLA only": "dla",
    "+ DSL only": "dsl",
    "Dynamic R-CNN (DLA + DSL)": "dynamic_rcnn",
}


@pytest.fixture(scope="module")
def refs():
    return R.load_references()


@pytest.fixture(scope="module")
def facts():
    if not FACTS.is_file():
        pytest.skip(
            f"facts file not found at {FACTS.resolve()} (the shared reference folder sits next to the "
            f"repository checkout in the development setup)"
        )
    text = FACTS.read_text(encoding="utf-8")
    sections = re.split(r"^### ", text, flags=re.M)
    return {s.split(" ", 1)[0]: s for s in sections[1:]}


def md_table(section):
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines() if line.startswith("|")
    ]
    header, body = rows[0], rows[2:]
    return [dict(zip(header, r)) for r in body]


def cell_statuses(status_text, metrics):
    """Per-column status from a status cell of facts table 1.2.

    'AP derived (...); the other columns unverified' -> AP derived, the rest unverified;
    'unverified, columns not known' -> every column unverified. Clauses that start with a metric
    but not with a status word ('AP90 gain of +5.5 ... verified') are about other numbers.
    """
    out = {}
    for clause in (c.strip() for c in status_text.split(";")):
        m = re.match(r"^(AP\d*) (verified|derived|unverified)\b", clause)
        if m:
            out[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^the other columns (verified|derived|unverified)\b", clause)
        if m:
            out.update({k: m.group(1) for k in metrics if k not in out})
            continue
        m = re.match(r"^(verified|derived|unverified)\b", clause)
        if m:
            out.update({k: m.group(1) for k in metrics})
    return out


def number(cell):
    m = re.fullmatch(r"(~?)(\d+(?:\.\d+)?)", cell)
    assert m, f"cannot read a number from {cell!r}"
    return float(m.group(2)), m.group(1) == "~"


def test_csv_loads_and_is_valid(refs):
    assert len(refs) > 50
    assert {r.status for r in refs} <= set(R.STATUSES)
    assert all(r.mark == R.STATUS_MARKS[r.status] for r in refs)


def test_ablation_numbers_and_statuses(facts, refs):
    metrics = ["AP", "AP50", "AP60", "AP70", "AP80", "AP90"]
    seen = 0
    for row in md_table(facts["1.2"]):
        arm = ARM_ROWS[row["arm"]]
        statuses = cell_statuses(row["status"], metrics)
        for m in metrics:
            if not row[m]:
                assert R.find(refs, "ablation", arm, m) is None, f"{arm} {m} is empty in the facts file"
                continue
            value, approx = number(row[m])
            ref = R.find(refs, "ablation", arm, m, source_key="paper")
            assert ref is not None, f"{arm} {m} missing from the CSV"
            assert (ref.value, ref.approx, ref.status) == (value, approx, statuses[m]), f"{arm} {m}"
            assert ref.split == "val2017"
            seen += 1
    assert seen == len([r for r in refs if r.table == "ablation"])


def test_breakdown_numbers_and_statuses(facts, refs):
    metrics = ["AP", "AP50", "AP75", "APS", "APM", "APL"]
    seen = 0
    for row in md_table(facts["1.3"]):
        src = row["source"]
        key, model = (
            ("paper", "dynamic_rcnn")
            if src.startswith("paper")
            else ("repro_report", "dynamic_rcnn")
            if src.startswith("reproduction report")
            else ("mmdet_zoo", "dynamic_rcnn")
            if "dynamic-rcnn" in src
            else ("mmdet_zoo", "faster_rcnn_mmdet")
        )
        status = re.match(r"(verified|derived|unverified)", row["status"]).group(1)
        for m in metrics:
            if not row[m]:
                continue
            ref = R.find(refs, "breakdown", model, m, source_key=key, split=row["split"])
            assert ref is not None, f"{src} {m} missing from the CSV"
            assert (ref.value, ref.status) == (number(row[m])[0], status), f"{src} {m}"
            seen += 1
        for value, metric in re.findall(r"(\d+(?:\.\d+)?) (GB|img/s)", row["status"]):
            ref = R.find(refs, "breakdown", model, "train_memory" if metric == "GB" else "throughput", source_key=key)
            assert ref is not None and (ref.value, ref.status) == (float(value), status), f"{src} {metric}"
            seen += 1
    assert seen == len([r for r in refs if r.table == "breakdown"])


def test_official_model_table(facts, refs):
    section = facts["1.4"]
    assert "verified" in section.splitlines()[0]
    rows = md_table(section)
    for row in rows:
        for column, split in (("val", "val2017"), ("test-dev", "test-dev")):
            ref = R.find(refs, "official_models", row["model"], "AP", split=split)
            assert ref is not None and (ref.value, ref.status) == (float(row[column]), "verified"), row["model"]
    m = re.search(r"1x/2x/3x = (\d+)k/(\d+)k/(\d+)k iterations at batch (\d+)", section)
    for sched, k in zip(("1x", "2x", "3x"), m.groups()[:3]):
        assert R.find(refs, "official_models", sched, "iterations").value == 1000 * int(k)
    assert R.find(refs, "official_models", "all", "batch_size").value == int(m.group(4))
    assert len([r for r in refs if r.table == "official_models"]) == 2 * len(rows) + 4


def test_abstract_gains(facts, refs):
    section = facts["1.1"]
    assert "(verified)" in section.splitlines()[0]
    ap, ap90 = re.search(r"([\d.]+)% AP and ([\d.]+)% AP90", section).groups()
    for metric, value in (("AP_gain", ap), ("AP90_gain", ap90)):
        ref = R.find(refs, "abstract", "dynamic_rcnn", metric)
        assert (ref.value, ref.status) == (float(value), "verified")


def test_hyperparameters_and_trajectory(facts, refs):
    text = " ".join(facts["1.5"].split())
    assert "Defaults (verified in both implementations)" in text
    num = r"(\d+(?:\.\d+)?)"
    defaults = {
        "iou_topk": rf"K_I \(iou_topk\) = {num}",
        "beta_topk": rf"K_beta \(beta_topk\) = {num}",
        "update_iter_interval": rf"update interval C = {num}",
        "initial_iou": rf"initial IoU threshold {num}",
        "initial_beta": rf"initial beta {num}",
    }
    for metric, pattern in defaults.items():
        ref = R.find(refs, "hyperparameters", "dynamic_rcnn", metric)
        assert (ref.value, ref.status) == (float(re.search(pattern, text).group(1)), "verified"), metric
    # Numbers the facts file gives without a status are treated as unverified.
    sweep = [float(v) for v in re.search(r"values ([\d, ]+) are known", text).group(1).split(",")]
    assert sorted(r.value for r in refs if r.metric == "beta_topk_sweep_value") == sorted(sweep)
    m = re.search(r"IoU threshold at ([\d., ]+?) after iterations (\d+)\.\.(\d+)", text)
    values = [float(v) for v in m.group(1).split(",")]
    iters = range(int(m.group(2)), int(m.group(3)) + 1, (int(m.group(3)) - int(m.group(2))) // (len(values) - 1))
    # read in the issue (facts 1.5), printed there to more digits: those, rounded to 4 places, with status verified
    printed = re.search(r"printed there to 16 digits: ([\d., ]+?), so", text).group(1)
    exact = [float(v) for v in printed.split(",")]
    assert [round(v, 4) for v in exact][:-1] == values[:-1]  # the facts' short list rounds the last one down
    for it, value in zip(iters, exact, strict=True):
        ref = R.find(refs, "trajectory", "dynamic_rcnn", f"iou_thr@{it}")
        assert (ref.value, ref.status) == (round(value, 4), "verified"), it
    beta = float(re.search(r"beta falling towards about (\d+(?:\.\d+)?)", text).group(1))
    ref = R.find(refs, "trajectory", "dynamic_rcnn", "beta@end_1x")
    assert (ref.value, ref.approx, ref.status) == (beta, True, "unverified")


def test_format_shows_status(refs):
    assert R.find(refs, "ablation", "dla", "AP").format() == "~38.0 [u]"
    assert R.find(refs, "ablation", "baseline", "AP").format() == "37.0 [d]"
    assert R.combined_status("verified", "derived") == "derived"
    assert R.combined_status("verified", "unverified") == "unverified"


def test_bad_status_is_rejected(tmp_path):
    src = R.default_path().read_text(encoding="utf-8").splitlines()
    src[1] = src[1].replace(",verified,", ",probably,")
    bad = tmp_path / "refs.csv"
    bad.write_text("\n".join(src) + "\n")
    with pytest.raises(ValueError, match="status"):
        R.load_references(bad)


def test_derived_numbers_follow_from_verified_ones(refs):
    base = R.find(refs, "ablation", "baseline", "AP")
    dyn = R.find(refs, "ablation", "dynamic_rcnn", "AP")
    gain = R.find(refs, "abstract", "dynamic_rcnn", "AP_gain")
    assert (dyn.status, gain.status, base.status) == ("verified", "verified", "derived")
    assert base.value == pytest.approx(dyn.value - gain.value)
    assert all(r.status != "derived" for r in refs if r is not base), "document any new derived number here"
