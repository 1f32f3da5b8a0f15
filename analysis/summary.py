"""The verdict page ``SUMMARY.md``: one row per claim of the paper, with our paired estimate and a verdict.

The verdict rule (:func:`verdict`), also printed on the page:

- *reproduced*: the Holm-adjusted p of the claim's paired test is below 0.05 and the mean difference has the
  paper's direction;
- *contradicted*: the adjusted p is below 0.05 and the mean has the other direction;
- *consistent, not resolved*: not rejected, the mean in the paper's direction;
- *not resolved*: not rejected, the mean in the other direction (or zero);
- *untestable here*: fewer than 2 paired seeds (no interval), or the metric at its floor (the baseline's mean AP at
  that IoU below :data:`FLOOR` AP points).
"""

import math
from dataclasses import dataclass

from dynrcnn.families import comparison_preface
from dynrcnn.families import family as get_family
from dynrcnn.run_record import ARMS, CONTROL_ARM, DEFAULT_VARIANT

from . import references
from .comparisons import paired_difference, seeds_needed
from .frame import IOU_METRICS, iou_of
from .results import BASELINE, FULL, Comparison
from .stats import fmt
from .style import ARM_LABELS

ALPHA = 0.05
POWER = 0.8
#: A metric whose baseline mean is below this many AP points is at its floor: no gain there can be tested.
FLOOR = 2.0
STATIC = (CONTROL_ARM, "static")
DEVIATIONS_ANCHOR = "deviations-from-the-paper"
#: Link to the one deviations block, relative to ``tables/``.
DEVIATIONS_LINK = f"../SUMMARY.md#{DEVIATIONS_ANCHOR}"
SYNTHETIC_LINE = (
    "These verdicts are about the synthetic data (a small model on generated shapes, on a CPU), not about COCO: "
    "they say whether the mechanism behaves as the paper says on this data, not whether the paper's numbers hold."
)


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict.

    Args:
        label (str): ``reproduced`` | ``contradicted`` | ``consistent, not resolved`` | ``not resolved`` |
            ``untestable here``.
        reason (str): why, in words (the test, the adjusted p, what the interval cannot exclude, or the floor).
    """

    label: str
    reason: str


def verdict(diff, p_adj, direction, floor=None):
    """The verdict of one claim (the rule of the module docstring).

    Args:
        diff (Difference): the claim's comparison (:mod:`analysis.comparisons`).
        p_adj (float): its Holm-adjusted p-value.
        direction (int): +1 when the paper says ``a - b > 0``, -1 when it says ``a - b < 0``.
        floor (str, optional): set when the metric is at its floor: what the floor is (the claim is untestable).

    Returns:
        Verdict
    """
    if floor:
        return Verdict("untestable here", f"at its floor: {floor}")
    if diff.n < 2 or math.isnan(p_adj):
        why = "no data" if diff.n == 0 else f"n = {diff.n}: no interval and no test with fewer than 2 seeds"
        if diff.n >= 2:
            why = f"every one of the {diff.n} seeds gives the same difference, 0: nothing to test"
        return Verdict("untestable here", why)
    with_paper = diff.mean * direction > 0
    test = f"{diff.test}, Holm-adjusted p = {p_adj:.3f}"
    if p_adj < ALPHA:
        return Verdict("reproduced" if with_paper else "contradicted", f"{test} < {ALPHA}")
    ci = f"{fmt(diff.lo, signed=True)} to {fmt(diff.hi, signed=True)}"
    cannot = f"the {diff.level * 100:g} % CI ({ci}) cannot exclude no difference, nor a difference of {_far_end(diff)}"
    label = "consistent, not resolved" if with_paper else "not resolved"
    return Verdict(label, f"{test} >= {ALPHA}; {cannot}")


def _far_end(diff):
    end = diff.hi if abs(diff.hi) >= abs(diff.lo) else diff.lo
    return f"{fmt(end, signed=True)} points"


def ours_text(diff, digits=1, unit=""):
    """'+2.4 (3 of 3 seeds agree in sign; 95 % CI +0.4 to +4.5)': the paired mean, sign agreement and interval."""
    if diff.n == 0:
        return "no runs"
    mean = f"{fmt(diff.mean, digits, signed=True)}{unit}"
    if not diff.has_interval:
        return f"{mean} (n = {diff.n}: no interval)"
    ci = f"{diff.level:.0%} CI {fmt(diff.lo, digits, signed=True)} to {fmt(diff.hi, digits, signed=True)}"
    agree = f"{diff.seeds_agree} of {diff.n} seeds agree in sign" if diff.seeds_agree is not None else "Welch t"
    return f"{mean} ({agree}; {ci})".replace("%", " %")


def coco_sd_range(refs):
    """(low, high) published seed-to-seed SD of Faster R-CNN R-50-FPN 1x on COCO, with the references used."""
    rows = [r for r in refs if r.table == "seed_spread" and r.metric == "seed_sd_AP"]
    return min(r.value for r in rows), max(r.value for r in rows), rows


def _needed(effect, sd, alpha):
    n = seeds_needed(effect, sd, alpha=alpha)
    return "> 100" if n is None else str(n)


def _needed_range(effect, sds, alpha):
    low, high = _needed(effect, min(sds), alpha), _needed(effect, max(sds), alpha)
    return low if low == high else f"{low}–{high}"


def seeds_needed_text(effect, diff, refs, dataset, holm_m=1, over=""):
    """Seeds a two-sided paired t-test needs (alpha 0.05, power 0.8) to detect ``effect`` (the paper's), alone and,
    for a Holm family of ``holm_m`` > 1 comparisons, at the Bonferroni level 0.05 / ``holm_m`` (:func:`seeds_note`),
    from the SD of ``diff``'s per-seed differences (``over``: which seeds, when not all of both sides')."""
    if effect is None or math.isnan(effect):
        return "— (no paper effect in these units)"
    if dataset == "coco":
        lo, hi, _ = coco_sd_range(refs)
        sds = [math.sqrt(2) * sd for sd in (lo, hi)]
        basis = f"published run SD {lo:g}–{hi:g} AP, reported; paired SD assumed √2 × run SD"
    elif math.isnan(diff.sd_diff):
        return "— (needs ≥ 2 paired seeds to measure the SD of the differences)"
    else:
        sds = [diff.sd_diff]
        basis = f"paper's {fmt(effect, signed=True)} at our SD of the differences {fmt(diff.sd_diff, 2)}{over}"
    need = _needed_range(effect, sds, ALPHA)
    if holm_m > 1:
        need += f"; {_needed_range(effect, sds, ALPHA / holm_m)} under Holm over m = {holm_m}"
    return f"{need} ({basis})"


@dataclass(frozen=True)
class Claim:
    """One row of the verdict page (all text, ready to print)."""

    claim: str
    paper: str
    ours: str
    verdict: Verdict
    seeds: str
    family: str


def _seeds_needed_of(res, c, effect, refs, dataset):
    """:func:`seeds_needed_text` of comparison ``c``; where its sides' seed sets differ (a Welch row), from the
    per-seed differences over the seeds both sides have."""
    diff, over = c.diff, ""
    a, b = res.values(c.a, c.metric), res.values(c.b, c.metric)
    common = sorted(set(a) & set(b))
    if set(a) != set(b) and len(common) >= 2:
        diff = paired_difference({s: a[s] for s in common}, {s: b[s] for s in common})
        over = f" over the {len(common)} seeds both sides have"
    return seeds_needed_text(effect, diff, refs, dataset, c.family_size, over)


def _comparison(res, family, a, b, metric):
    """The claim's comparison; without runs on either side, an empty one (its verdict: untestable, no data)."""
    found = res.comparison(family, a, b, metric)
    if found is not None:
        return found
    return Comparison(family, a, b, metric, paired_difference({}, {}), math.nan, 0)


def _paper_text(pg):
    if pg is None:
        return "—", math.nan
    value, status, approx = pg
    return f"{'~' if approx else ''}{fmt(value, signed=True)} {references.STATUS_MARKS[status]}", value


def _family_text(c):
    return f"{c.family} (Holm over m = {c.family_size})" if c.family_size else f"{c.family} (no test)"


def _tested_claim(title, paper, c, direction, seeds, floor=None, digits=1):
    """A claim decided by comparison ``c``: its paired mean and CI, the verdict from its Holm-adjusted p in the
    paper's ``direction`` (+1 / -1), the seeds-needed text ``seeds`` and its Holm family."""
    ours = ours_text(c.diff, digits=digits)
    return Claim(title, paper, ours, verdict(c.diff, c.p_adj, direction, floor), seeds, _family_text(c))


def arm_claim(res, refs, dataset, arm, metric="AP"):
    """'{arm} improves {metric}': the gains family of the three arms at ``metric``."""
    c = _comparison(res, "gains", (arm, DEFAULT_VARIANT), BASELINE, metric)
    paper, effect = _paper_text(references.paper_gain(refs, arm, metric))
    floor = floor_text(res, metric)
    name = {"dla": "DLA", "dsl": "DSL", "dynamic_rcnn": "DLA + DSL"}[arm]
    seeds = _seeds_needed_of(res, c, effect, refs, dataset)
    return _tested_claim(f"{name} improves {metric}", paper, c, +1, seeds, floor)


def floor_text(res, metric):
    """str | None: the floor description when the baseline's mean ``metric`` is below :data:`FLOOR` AP points."""
    base = res.summary(BASELINE, metric)
    if base.n and not base.undefined and base.mean < FLOOR:
        return f"the baseline's mean {metric} is {fmt(base.mean)} AP, below {FLOOR:g} AP points"
    return None


def growth_metric(res):
    """str | None: the highest single-IoU metric above AP50 that is not at its floor."""
    usable = [m for m in IOU_METRICS[1:] if res.summary(BASELINE, m).n and not floor_text(res, m)]
    return usable[-1] if usable else None


def growth_claim(res, refs, dataset):
    """'The gain grows with the IoU threshold': per seed, Dynamic R-CNN's gain at the highest usable IoU minus its
    gain at AP50."""
    metric = growth_metric(res)
    title = "the gain of DLA + DSL grows with the IoU threshold"
    p90 = references.paper_gain(refs, "dynamic_rcnn", "AP90")
    p50 = references.paper_gain(refs, "dynamic_rcnn", "AP50")
    paper = f"{_paper_text(p90)[0]} at AP90 vs {_paper_text(p50)[0]} at AP50"
    if metric is None:
        v = Verdict("untestable here", "every IoU above 0.5 is at its floor (baseline mean below 2 AP points)")
        return Claim(title, paper, "—", v, "—", "iou_growth")
    c = _comparison(res, "iou_growth", FULL, BASELINE, metric)
    effect = p90[0] - p50[0] if metric == "AP90" and p90 and p50 else math.nan
    title = f"{title} (tested: gain at {metric}, IoU {iou_of(metric):.2f}, minus gain at AP50)"
    return _tested_claim(title, paper, c, +1, seeds_needed_text(effect, c.diff, refs, dataset, c.family_size))


def dynamics_claims(res, refs):
    """'The IoU threshold rises' and 'beta falls' during training: Dynamic R-CNN's final minus initial value."""
    claims = []
    for scalar, direction, text in (("iou_thr", +1, "the IoU threshold rises"), ("beta", -1, "beta falls")):
        c = _comparison(res, "dynamics", FULL, FULL, scalar)
        key, start, digits = ("iou_thr@500", "0.4", 4) if scalar == "iou_thr" else ("beta@end_1x", "1.0", 1)
        ref = references.find(refs, "trajectory", "dynamic_rcnn", key)
        paper = f"{start} → {ref.format(digits)} (author, issue #3)" if ref else "—"
        title = f"{text} during training (DLA + DSL, final minus initial)"
        claims.append(_tested_claim(title, paper, c, direction, "— (no paper effect in these units)", digits=3))
    return claims


def additivity_claims(res, refs, dataset):
    """'DLA + DSL beats DLA only' and '... DSL only': the additivity family at AP."""
    claims = []
    for arm in ARMS[1:3]:
        c = _comparison(res, "additivity", FULL, (arm, DEFAULT_VARIANT), "AP")
        full, part = (references.find(refs, "ablation", a, "AP", source_key="paper") for a in ("dynamic_rcnn", arm))
        pg = (
            (full.value - part.value, references.combined_status(full.status, part.status), part.approx)
            if full and part
            else None
        )
        paper, effect = _paper_text(pg)
        title = f"DLA + DSL beats {ARM_LABELS[arm].lstrip('+ ')} (AP)"
        claims.append(_tested_claim(title, paper, c, +1, _seeds_needed_of(res, c, effect, refs, dataset)))
    return claims


def static_claim(res, refs, dataset):
    """'The gain is not explained by the final threshold and beta alone': the static endpoint against Dynamic
    R-CNN (controls ran only)."""
    c = res.comparison("controls_vs_dynamic_rcnn", STATIC, FULL, "AP")
    if c is None:
        return None
    return _tested_claim(
        "the gain is not explained by the final threshold and beta alone (static endpoint − DLA + DSL, AP)",
        "no number (the paper's premise that the values must change during training)",
        c,
        -1,
        "— (no paper effect)",
    )


def claims(res, refs, dataset):
    """list[Claim]: every row of the verdict page, in the paper's order."""
    rows = [arm_claim(res, refs, dataset, arm) for arm in ARMS[1:]]
    rows.append(arm_claim(res, refs, dataset, "dynamic_rcnn", "AP90"))
    rows.append(growth_claim(res, refs, dataset))
    rows += dynamics_claims(res, refs)
    rows += additivity_claims(res, refs, dataset)
    static = static_claim(res, refs, dataset)
    return rows + ([static] if static else [])


def _deviation(fam, setting, default):
    found = [d.ours for d in fam.deviations if d.setting == setting]
    return found[0] if found else default


PAPER_SCHEDULE = "the paper's 1x (90k iterations at 16 images)"


def model_text(family_name):
    """str: the model the family trains (its ``model`` deviation, else the paper's R-50-FPN)."""
    return _deviation(get_family(family_name), "model", "ImageNet-pretrained ResNet-50-FPN (the paper's)")


def banner(res, family_name, dataset):
    """The page's first line: data, model, schedule, seeds per arm, the paired design."""
    fam = get_family(family_name)
    seeds = ", ".join(f"{ARM_LABELS[a].lstrip('+ ')} {len(res.seeds((a, DEFAULT_VARIANT)))}" for a in ARMS)
    return (
        f"**Data:** {dataset} (family `{fam.name}`). **Model:** {model_text(family_name)}. "
        f"**Schedule:** {_deviation(fam, 'schedule', PAPER_SCHEDULE)}. **Seeds per arm:** {seeds}. "
        "**Design:** paired: a seed fixes the initial weights and the data order in every arm, so arms are compared "
        "through per-seed differences over the seeds both have."
    )


RULE = (
    "Verdict rule (one test per claim, its p Holm-adjusted within the family named in the last column): "
    "*reproduced* = adjusted p < 0.05 in the paper's direction; *contradicted* = adjusted p < 0.05 in the other "
    "direction; *consistent, not resolved* = not rejected, the mean in the paper's direction; *not resolved* = not "
    "rejected, the mean in the other direction; *untestable here* = fewer than 2 paired seeds, or the metric at its "
    f"floor (the baseline's mean AP at that IoU below {FLOOR:g} AP points). A claim that is not resolved is not shown "
    "false nor equal: its interval says which differences the seeds cannot exclude."
)
METHOD = (
    "Ours: mean of the per-seed differences (paired t-test, Student's t with n − 1 degrees of freedom, two-sided; "
    "95 % confidence interval, for that comparison alone: Holm adjusts the p-values, not the intervals), or "
    "Welch's t-test with its own degrees of freedom where the two sides have different seeds (said in the cell); "
    "k of n seeds agree in sign with the mean. Holm families: gains/AP = the three arms against the baseline at AP "
    "(the headline DLA + DSL row takes its adjusted p from it); additivity/AP = DLA + DSL against each single "
    "component; dynamics = the threshold and beta rows; controls_vs_dynamic_rcnn/AP = every control against "
    "DLA + DSL; iou_growth = one test."
)


def seeds_note(refs, dataset):
    """How the 'seeds needed' column is computed (with the published SDs and their status for COCO)."""
    text = (
        "Seeds needed: the smallest n for which a two-sided paired t-test at alpha 0.05 reaches power 0.8 "
        "(noncentral t) against the paper's effect"
    )
    holm = (
        " The second number, for a claim whose Holm family has m > 1 comparisons: the same at alpha 0.05 / m "
        "(Bonferroni). Holm rejects every hypothesis Bonferroni rejects, so that many seeds give this page's verdict "
        "at least power 0.8; the first number is enough for the test alone, not for the adjusted verdict."
    )
    if dataset != "coco":
        return (
            text + ", with the SD of our per-seed differences as measured (the paper's effect is a COCO number)." + holm
        )
    lo, hi, rows = coco_sd_range(refs)
    sources = "; ".join(f"{r.value:g} AP {r.mark}: {r.source}" for r in rows)
    return (
        f"{text}, with the SD of the paired differences assumed √2 × the published seed-to-seed SD of Faster R-CNN "
        f"R-50-FPN 1x on COCO ({lo:g}–{hi:g} AP; {sources}), i.e. runs of two arms as independent (no positive "
        "correlation between arms of one seed, which GPU non-determinism makes likely)." + holm
    )


#: SUMMARY.md's heading of the expected-results gate (``snakemake verify``'s comparison, from the same runs).
VERIFY_HEADING = "## Expected results (verify)"


def render(res, refs, family_name, dataset, notices=(), verify=None):
    """The Markdown of ``SUMMARY.md``.

    Args:
        res (Results): :func:`analysis.results.compute`.
        refs (list[Reference]): reference numbers.
        family_name (str): the config family.
        dataset (str): ``synthetic`` or ``coco``.
        notices (Sequence[str]): extra lines printed under the banner (e.g. mixed-provenance warnings).
        verify (str, optional): markdown of the expected-results gate (:func:`analysis.verify.verify_markdown`),
            printed under its own heading after the verdicts.

    Returns:
        str
    """
    lines = ["# Does the paper reproduce here? One verdict per claim", "", banner(res, family_name, dataset), ""]
    if dataset == "synthetic":
        lines += [f"**{SYNTHETIC_LINE}**", ""]
    lines += [f"> {n}" for n in notices] + ([""] if notices else [])
    header = ["claim", "paper (status)", "ours (paired mean, sign agreement, CI)", "verdict", "seeds needed"]
    lines += ["| " + " | ".join(header + ["Holm family"]) + " |", "|---" * (len(header) + 1) + "|"]
    for c in claims(res, refs, dataset):
        cells = [c.claim, c.paper, c.ours, f"**{c.verdict.label}**: {c.verdict.reason}", c.seeds, c.family]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines += ["", RULE, "", METHOD, "", seeds_note(refs, dataset), "", references.STATUS_LEGEND, ""]
    if verify:
        lines += [VERIFY_HEADING, "", verify.rstrip("\n"), ""]
    lines += ["## Deviations from the paper", ""]
    preface = comparison_preface(family_name)
    lines += [preface[0], ""] + [f"{line}  " for line in preface[1:]]
    return "\n".join(lines) + "\n"


def write_summary(path, res, refs, family_name, dataset, notices=(), verify=None):
    """Write :func:`render` to ``path``; returns the path."""
    path.write_text(render(res, refs, family_name, dataset, notices, verify), encoding="utf-8")
    return path
