"""The verdict page: the verdict rule, the claims' numbers, and two verdicts recomputed from runs.csv with scipy."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import summary, tables
from analysis.comparisons import paired_difference
from analysis.references import load_references
from analysis.results import BASELINE, FULL, compute
from dynrcnn.run_record import IOU_KEYS, SUMMARY_METRICS
from tests.analysis.fake_runs import memory_run

SEEDS = (0, 1, 2, 3, 4)
#: AP (percent) per arm and seed: seed effects shared by all arms (a paired design), DSL's gain small and noisy
AP = {
    "baseline": [30.0, 31.5, 29.0, 30.8, 30.2],
    "dla": [32.1, 33.0, 31.4, 32.9, 32.0],
    "dsl": [30.9, 31.2, 29.9, 30.6, 31.5],
    "dynamic_rcnn": [33.0, 34.4, 31.8, 33.9, 33.1],
}


def fake_run(arm, seed, ap, variant="default", ap90=None, iou=(0.5, 0.6), beta=(1.0, 0.3)):
    """An in-memory run: AP at IoU t falls linearly from AP + 20 at 0.50 to ``ap90`` (default AP - 15) at 0.90."""
    ap90 = ap - 15 if ap90 is None else ap90
    per_iou = {k: (ap + 20 + (ap90 - ap - 20) * (float(k) - 0.5) / 0.4) / 100 for k in IOU_KEYS}
    metrics = {m: ap / 100 for m in SUMMARY_METRICS}
    metrics.update(AP50=per_iou["0.50"], AP75=per_iou["0.75"], **{f"AP@{k}": v for k, v in per_iou.items()})
    train = pd.DataFrame({"step": [10, 450], "dynrcnn/iou_thr": list(iou), "dynrcnn/beta": list(beta)})
    provenance = {"git_commit": "0123456789", "config_sha256": f"{seed:064d}"}
    return memory_run(arm, seed, metrics, variant=variant, train=train, provenance=provenance)


def make_runs(ap=AP, seeds=SEEDS, ap90=None):
    rng = np.random.default_rng(0)
    runs = []
    for arm, values in ap.items():
        for seed, value in zip(seeds, values):
            dyn = arm == "dynamic_rcnn"
            iou = (0.5, 0.58 + 0.01 * rng.random()) if dyn else (0.5, 0.5)
            beta = (1.0, 0.3 + 0.05 * rng.random()) if dyn else (1.0, 1.0)
            runs.append(fake_run(arm, seed, value, ap90=None if ap90 is None else ap90[arm][seed], iou=iou, beta=beta))
    return runs


@pytest.fixture(scope="module")
def refs():
    return load_references()


@pytest.fixture(scope="module")
def res():
    return compute(make_runs())


@pytest.fixture(scope="module")
def claims(res, refs):
    return {c.claim: c for c in summary.claims(res, refs, "synthetic")}


# -- the verdict rule ------------------------------------------------------------------------------------------------

UP = paired_difference({0: 3.0, 1: 4.0, 2: 2.0}, {0: 0.0, 1: 0.0, 2: 0.0})
DOWN = paired_difference({0: 0.0, 1: 0.0, 2: 0.0}, {0: 3.0, 1: 4.0, 2: 2.0})


@pytest.mark.parametrize(
    "diff, p_adj, direction, label",
    [
        (UP, 0.01, +1, "reproduced"),
        (DOWN, 0.01, +1, "contradicted"),
        (DOWN, 0.01, -1, "reproduced"),
        (UP, 0.2, +1, "consistent, not resolved"),
        (DOWN, 0.2, +1, "not resolved"),
        (UP, 0.05, +1, "consistent, not resolved"),  # 0.05 is not below 0.05
    ],
)
def test_verdict_rule(diff, p_adj, direction, label):
    assert summary.verdict(diff, p_adj, direction).label == label


def test_not_resolved_says_what_the_interval_cannot_exclude():
    v = summary.verdict(UP, 0.2, +1)
    assert "cannot exclude no difference" in v.reason and "95 % CI (+0.5 to +5.5)" in v.reason
    assert "match" not in v.reason and "equal" not in v.reason


def test_single_seed_and_floor_are_untestable():
    one = paired_difference({3: 40.0}, {3: 38.0})
    v = summary.verdict(one, math.nan, +1)
    assert v.label == "untestable here" and "n = 1" in v.reason
    v = summary.verdict(UP, 0.001, +1, floor="the baseline's mean AP90 is 1.0 AP, below 2 AP points")
    assert v.label == "untestable here" and "1.0 AP, below 2 AP points" in v.reason


# -- the claims -----------------------------------------------------------------------------------------------------


def test_claim_rows(claims):
    assert list(claims)[:4] == [
        "DLA improves AP",
        "DSL improves AP",
        "DLA + DSL improves AP",
        "DLA + DSL improves AP90",
    ]
    head = claims["DLA + DSL improves AP"]
    assert head.paper == "+1.9 [v]" and head.family == "gains/AP (Holm over m = 3)"
    diffs = np.subtract(AP["dynamic_rcnn"], AP["baseline"])
    ci = stats.ttest_rel(AP["dynamic_rcnn"], AP["baseline"]).confidence_interval(0.95)
    assert head.ours == f"{diffs.mean():+.1f} (5 of 5 seeds agree in sign; 95 % CI {ci.low:+.1f} to {ci.high:+.1f})"


def _smallest_n(effect, sd, alpha):
    """Brute force: the smallest n whose two-sided paired t-test at ``alpha`` has noncentral-t power >= 0.8."""
    for n in range(2, 101):
        t, nc = stats.t.ppf(1 - alpha / 2, n - 1), effect / (sd / np.sqrt(n))
        if stats.nct.sf(t, n - 1, nc) + stats.nct.cdf(-t, n - 1, nc) >= 0.8:
            return n


def test_seeds_needed_alone_and_under_the_claims_holm_family(claims):
    """Seeds for the test alone (alpha 0.05) and for the page's Holm-adjusted verdict (its family's Bonferroni level
    0.05 / m, which Holm never rejects less often than); a one-test family has only the first."""
    head = claims["DLA + DSL improves AP"]
    sd = np.std(np.subtract(AP["dynamic_rcnn"], AP["baseline"]), ddof=1)
    alone, holm = _smallest_n(1.9, sd, 0.05), _smallest_n(1.9, sd, 0.05 / 3)
    assert holm > alone
    assert head.seeds == f"{alone}; {holm} under Holm over m = 3 (paper's +1.9 at our SD of the differences {sd:.2f})"
    additivity = claims["DLA + DSL beats DSL only (AP)"]
    assert additivity.family == "additivity/AP (Holm over m = 2)" and "; " in additivity.seeds
    assert "under Holm over m = 2 (" in additivity.seeds
    assert "Bonferroni" in summary.seeds_note([], "synthetic")


def test_dynamics_rows(claims):
    rises = claims["the IoU threshold rises during training (DLA + DSL, final minus initial)"]
    falls = claims["beta falls during training (DLA + DSL, final minus initial)"]
    assert rises.verdict.label == "reproduced" and falls.verdict.label == "reproduced"
    assert rises.paper.startswith("0.4 → 0.5379 [v]") and falls.paper.startswith("1.0 → ~0.2 [u]")


def test_ap90_at_its_floor_is_untestable_and_the_growth_row_names_its_iou(refs):
    floor = {arm: [1.0 + 0.1 * s for s in SEEDS] for arm in AP}  # AP90 ~1 %: at its floor
    res = compute(make_runs(ap90=floor))
    claims = {c.claim.split(" (")[0]: c for c in summary.claims(res, refs, "synthetic")}
    ap90 = claims["DLA + DSL improves AP90"]
    assert ap90.verdict.label == "untestable here" and "mean AP90 is 1.2 AP, below 2 AP points" in ap90.verdict.reason
    # AP at IoU 0.85 still above the floor: the growth row tests there
    growth = claims["the gain of DLA + DSL grows with the IoU threshold"]
    assert summary.growth_metric(res) == "AP85" and "gain at AP85, IoU 0.85, minus gain at AP50" in growth.claim
    page = summary.render(res, refs, "synthetic", "synthetic")
    assert "below 2 AP points" in page


def test_one_seed_page(refs):
    res = compute(make_runs(ap={k: v[:1] for k, v in AP.items()}, seeds=(0,)))
    claims = summary.claims(res, refs, "synthetic")
    assert all(c.verdict.label == "untestable here" for c in claims)
    assert "n = 1: no interval" in claims[0].ours


def test_page_banner_notices_and_rule(res, refs):
    page = summary.render(res, refs, "synthetic", "synthetic", notices=["runs of two commits are mixed"])
    lines = page.splitlines()
    assert lines[0].startswith("# ") and lines[2].startswith("**Data:** synthetic") and "paired" in lines[2]
    assert "ResNet-18" in lines[2] and "Baseline (Faster R-CNN) 5" in lines[2]
    assert summary.SYNTHETIC_LINE in page and "> runs of two commits are mixed" in page
    assert summary.RULE in page and "## Deviations from the paper" in page
    assert "significant" not in page and "match" not in page


def test_extra_seeds_pair_the_headline_and_give_the_welch_rows_seeds_from_the_common_seeds(refs):
    """Baseline and Dynamic R-CNN with two more seeds than DLA and DSL (extra_seeds): the headline stays paired over
    all 7; a single-component arm against the baseline is a Welch row, whose seeds needed come from the per-seed
    differences over the 5 seeds both sides have."""
    extra = {"baseline": [30.4, 29.6], "dynamic_rcnn": [33.5, 32.0]}
    runs = make_runs() + [fake_run(arm, s, v) for arm, vs in extra.items() for s, v in zip((5, 6), vs)]
    claims = {c.claim: c for c in summary.claims(compute(runs), refs, "synthetic")}
    head = claims["DLA + DSL improves AP"]
    assert head.ours.startswith("+") and "of 7 seeds agree in sign" in head.ours
    dla = claims["DLA improves AP"]
    assert "Welch t" in dla.ours
    sd = np.std(np.subtract(AP["dla"], AP["baseline"]), ddof=1)
    alone, holm = _smallest_n(1.0, sd, 0.05), _smallest_n(1.0, sd, 0.05 / 3)
    assert dla.seeds == (
        f"{alone}; {holm} under Holm over m = 3 (paper's +1.0 at our SD of the differences {sd:.2f} over the 5 seeds "
        "both sides have)"
    )


def test_coco_seeds_needed_use_the_published_spread(refs):
    res = compute(make_runs())
    claim = summary.arm_claim(res, refs, "coco", "dynamic_rcnn")
    assert "published run SD 0.1–0.3 AP, reported" in claim.seeds
    low, high = (summary.seeds_needed(1.9, math.sqrt(2) * sd) for sd in (0.1, 0.3))
    holm_low, holm_high = (summary.seeds_needed(1.9, math.sqrt(2) * sd, alpha=0.05 / 3) for sd in (0.1, 0.3))
    assert claim.seeds.startswith(f"{low}–{high}; {holm_low}–{holm_high} under Holm over m = 3 (")
    assert "√2 × the published seed-to-seed SD" in summary.seeds_note(refs, "coco")


def test_static_row_only_with_controls(res, refs):
    assert not any("static endpoint" in c.claim for c in summary.claims(res, refs, "synthetic"))
    runs = make_runs() + [fake_run("baseline", s, v - 0.5, variant="static") for s, v in zip(SEEDS, AP["dynamic_rcnn"])]
    for r in runs[-5:]:
        r.control = {"kind": "static", "iou_thr": 0.58, "beta": 0.3, "loss": "SmoothL1Loss"}
    rows = summary.claims(compute(runs), refs, "synthetic")
    static = [c for c in rows if "static endpoint" in c.claim]
    assert len(static) == 1 and static[0].ours.startswith("-0.5 (5 of 5 seeds agree in sign")
    assert static[0].verdict.label == "reproduced"  # every seed falls short by 0.5: the interval excludes 0


# -- two verdicts recomputed from runs.csv with scipy directly ---------------------------------------------------------


def _holm(p):
    order = np.argsort(p)
    adjusted, running = np.empty(len(p)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def _rule(mean, p_adj):
    if p_adj < 0.05:
        return "reproduced" if mean > 0 else "contradicted"
    return "consistent, not resolved" if mean > 0 else "not resolved"


def test_two_verdicts_recomputed_from_runs_csv(res, refs, claims):
    runs_csv = pd.read_csv(io.StringIO(tables.runs_table(make_runs(), "synthetic").to_csv()))
    ap = {arm: rows.sort_values("seed").AP.to_numpy() for arm, rows in runs_csv.groupby("arm")}
    # headline: the gains family of the three arms at AP
    p = [stats.ttest_rel(ap[arm], ap["baseline"]).pvalue for arm in ("dla", "dsl", "dynamic_rcnn")]
    head = _rule((ap["dynamic_rcnn"] - ap["baseline"]).mean(), _holm(p)[2])
    dsl = _rule((ap["dsl"] - ap["baseline"]).mean(), _holm(p)[1])
    assert claims["DLA + DSL improves AP"].verdict.label == head
    assert claims["DSL improves AP"].verdict.label == dsl
    # additivity: Dynamic R-CNN against each single component
    p = [stats.ttest_rel(ap["dynamic_rcnn"], ap[arm]).pvalue for arm in ("dla", "dsl")]
    assert claims["DLA + DSL beats DLA only (AP)"].verdict.label == _rule(
        (ap["dynamic_rcnn"] - ap["dla"]).mean(), _holm(p)[0]
    )
    assert res.comparison("gains", FULL, BASELINE, "AP").p_adj == pytest.approx(
        _holm([stats.ttest_rel(ap[a], ap["baseline"]).pvalue for a in ("dla", "dsl", "dynamic_rcnn")])[2]
    )


def test_page_without_some_arms(refs):
    """A config that trains only the baseline and Dynamic R-CNN: the other rows say there is no data."""
    res = compute(make_runs(ap={k: v for k, v in AP.items() if k in ("baseline", "dynamic_rcnn")}))
    claims = {c.claim: c for c in summary.claims(res, refs, "synthetic")}
    assert claims["DLA improves AP"].verdict == summary.Verdict("untestable here", "no data")
    assert claims["DLA improves AP"].ours == "no runs"
    assert claims["DLA + DSL improves AP"].verdict.label == "reproduced"
