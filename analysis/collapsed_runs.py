"""Collapsed runs: a run whose AP is far below the other runs of its arm and variant (a training that diverged).

On the synthetic family a training can diverge after the warm-up (seen: Dynamic R-CNN seed 8 of the default
schedule, its loss from about 2 to 11.6 at iteration 90, final AP 1.4 where the arm's other 13 runs have 27 to 30;
README "What the synthetic report can and cannot show"). One such run turns a paired comparison's SD from about 1 AP
to 7 and its verdict to "not resolved", with nothing on the page saying why. :func:`collapsed_runs` finds those runs
by one written rule and :func:`render_notice` names them on the verdict page and under the runs table. The runs stay
in every statistic: dropping a run after seeing its result would bias the tests; the notice says what it does to
them and what to look at.

Rule: within an arm and variant of at least :data:`MIN_RUNS` runs, each with a defined AP, a run whose AP is below
:data:`FRACTION` of the median AP of the others. The per-seed AP comes from :class:`analysis.results.Results`
(computed once for the whole report); the training losses from the runs.
"""

import math
import statistics
from dataclasses import dataclass

#: A run is collapsed when its AP is below this fraction of the median AP of the other runs of its arm and variant.
FRACTION = 0.5
#: Fewest runs with an AP in an arm and variant for the rule to apply (the others' median needs at least two).
MIN_RUNS = 3


@dataclass(frozen=True)
class Collapsed:
    """A run far below the rest of its arm and variant.

    Args:
        run (str): ``{arm}/{variant}/seed{seed}``.
        ap (float): its AP, in percent.
        others_median (float): the median AP of the other runs of its arm and variant, in percent.
        others (int): how many other runs.
        loss_peak (tuple | None): ``(step, peak loss, first logged loss)`` of its training, None without a loss.
    """

    run: str
    ap: float
    others_median: float
    others: int
    loss_peak: tuple | None


def _loss_peak(train):
    if train is None or "loss" not in train.columns or not len(train):
        return None
    losses = [(int(s), float(v)) for s, v in zip(train["step"], train["loss"]) if not math.isnan(float(v))]
    if not losses:
        return None
    step, peak = max(losses, key=lambda sv: sv[1])
    return step, peak, losses[0][1]


def collapsed_runs(res, runs):
    """The collapsed runs, by the rule of the module docstring, from the per-seed AP of ``res``.

    Args:
        res (analysis.results.Results): the report's numbers (:func:`analysis.results.compute` of ``runs``).
        runs (list[Run]): the report's runs (their training losses).

    Returns:
        list[Collapsed]: by arm and variant in the runs' order, then by seed.
    """
    train = {(r.arm, r.variant, r.seed): r.train for r in runs}
    found = []
    for group in res.groups():
        values = res.values(group, "AP")  # percent; empty when the AP of some seed is undefined
        if len(values) < MIN_RUNS:
            continue
        for seed, ap in values.items():
            others = [v for s, v in values.items() if s != seed]
            median = statistics.median(others)
            if ap < FRACTION * median:
                name = f"{group[0]}/{group[1]}/seed{seed}"
                found.append(Collapsed(name, ap, median, len(others), _loss_peak(train.get((*group, seed)))))
    return found


def render_notice(collapsed):
    """A short markdown notice of ``collapsed`` ('' when there are none), laid out as
    :func:`analysis.provenance_flags.render_notice`'s: a heading line, one bullet per run, one closing line."""
    if not collapsed:
        return ""
    n = len(collapsed)
    lines = [
        f"**{n} run{'s' * (n != 1)} far below the rest of {'their arms' if n > 1 else 'its arm'}** (AP below "
        f"{FRACTION:g} x the median of the other runs of the arm and variant: a training that diverged?)",
        "",
    ]
    for c in collapsed:
        loss = ""
        if c.loss_peak is not None:
            step, peak, first = c.loss_peak
            loss = f"; its training loss peaked at {peak:.2f} at iteration {step} (first logged: {first:.2f})"
        others = f"{c.others} other run{'s' * (c.others != 1)}"
        lines.append(f"- `{c.run}`: AP {c.ap:.1f} against a median of {c.others_median:.1f} over its {others}{loss}.")
    lines += [
        "",
        "Kept in every statistic (dropping a run after seeing its result would bias the tests): each comparison it "
        "enters carries its seed's difference, which widens that interval and can hide a gain. Look at its loss "
        "curve (`scalars.json`, figure `training_curves`); a divergence is a result about the arm's stability, to be "
        "reported with the others.",
    ]
    return "\n".join(lines) + "\n"
