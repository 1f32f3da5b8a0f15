"""Paired seed comparisons: per-seed differences, their t interval and p, Holm's correction, seeds needed.

A seed is a block of the design: it fixes the initial weights and the data order in every arm, so two arms run with
the same seeds are compared through their per-seed differences (paired t-test, Student's t with n - 1 degrees of
freedom). Where the two sides have different seed sets the comparison falls back to Welch's unequal-variance t-test
over all values of each side, and says so in ``Difference.test``.

All values are AP points (percent). The t distribution's tails and quantiles are scipy's ``scipy.special.stdtr`` and
``stdtrit`` (behind ``scipy.stats.t``), the noncentral t's ``nctdtr`` (behind ``scipy.stats.nct``): the same numbers as
``scipy.stats.ttest_rel`` / ``ttest_ind(equal_var=False)`` and their ``confidence_interval`` (the tests check that),
without their per-call overhead (a report computes several hundred comparisons).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

PAIRED = "paired t"
WELCH = "Welch t"
NONE_N1 = "none (n = 1)"
NONE_EMPTY = "none (no data)"


@dataclass(frozen=True)
class Difference:
    """Difference ``a - b`` of one metric between two sides, over seeds.

    Args:
        mean (float): mean of a - b in AP points (paired: mean of the per-seed differences; Welch: difference of the
            means); NaN if no data.
        lo (float): lower bound of the confidence interval at ``level`` (Student's t, n - 1 df for paired; Welch's
            df otherwise); NaN if n < 2.
        hi (float): upper bound, likewise.
        p (float): two-sided p of the test named in ``test``; NaN if n < 2.
        n (int): seeds used (paired: seeds both sides have; Welch: min(n_a, n_b)).
        n_a (int): values on side a.
        n_b (int): values on side b.
        test (str): ``"paired t"`` | ``"Welch t"`` | ``"none (n = 1)"`` | ``"none (no data)"``.
        seeds_agree (int | None): paired only: how many per-seed differences have the sign of ``mean``.
        per_seed (tuple): paired: ``((seed, a - b), ...)`` sorted by seed; Welch: ``()``.
        level (float): confidence level of ``lo``/``hi``.
    """

    mean: float
    lo: float
    hi: float
    p: float
    n: int
    n_a: int
    n_b: int
    test: str
    seeds_agree: int | None
    per_seed: tuple
    level: float = 0.95

    @property
    def paired(self):
        """bool: the comparison is a paired t-test."""
        return self.test == PAIRED

    @property
    def has_interval(self):
        """bool: an interval and a p-value exist (n >= 2)."""
        return not math.isnan(self.lo)

    @property
    def sd_diff(self):
        """float: sample SD (ddof 1) of the per-seed differences; NaN unless paired with n >= 2."""
        if not self.paired or len(self.per_seed) < 2:
            return math.nan
        return float(np.std([d for _, d in self.per_seed], ddof=1))


def _finite(side):
    """{seed: value} without NaN/None values."""
    return {int(k): float(v) for k, v in side.items() if v is not None and not math.isnan(float(v))}


def _no_spread(value, data):
    """bool: ``value`` (an SD or a mean) is zero up to floating-point rounding of ``data``."""
    return value <= 1e-9 * max(1.0, float(np.max(np.abs(data))))


def _sign_agree(diffs, mean):
    if mean == 0 or math.isnan(mean):
        return 0
    return int(sum(1 for d in diffs if d != 0 and math.copysign(1, d) == math.copysign(1, mean)))


def _t_interval(mean, se, df, level):
    """(lo, hi, two-sided p) of a t statistic ``mean / se`` with ``df`` degrees of freedom."""
    half = float(special.stdtrit(df, 0.5 + level / 2)) * se
    p = 2.0 * float(special.stdtr(df, -abs(mean) / se))
    return mean - half, mean + half, min(1.0, p)


def _paired(a, b, seeds, level):
    diffs = np.array([a[s] - b[s] for s in seeds])
    mean = float(diffs.mean())
    per_seed = tuple((s, float(a[s] - b[s])) for s in seeds)
    n = len(seeds)
    sd = float(diffs.std(ddof=1))
    if _no_spread(sd, diffs):
        # All differences equal (up to rounding): no spread; t is infinite (p = 0, as scipy gives) unless the mean is 0
        lo = hi = mean
        p = math.nan if _no_spread(abs(mean), diffs) else 0.0
    else:
        lo, hi, p = _t_interval(mean, sd / math.sqrt(n), n - 1, level)
    return Difference(mean, lo, hi, p, n, len(a), len(b), PAIRED, _sign_agree(diffs, mean), per_seed, level)


def _welch(a, b, level):
    xa, xb = np.array(list(a.values())), np.array(list(b.values()))
    mean = float(xa.mean() - xb.mean())
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    se = math.sqrt(va + vb)
    if _no_spread(se, np.concatenate([xa, xb])):
        lo = hi = mean
        p = math.nan if _no_spread(abs(mean), np.concatenate([xa, xb])) else 0.0
    else:
        df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
        lo, hi, p = _t_interval(mean, se, df, level)
    return Difference(mean, lo, hi, p, min(len(xa), len(xb)), len(xa), len(xb), WELCH, None, (), level)


def paired_difference(a: Mapping[int, float], b: Mapping[int, float], level=0.95) -> Difference:
    """Difference ``a - b`` over seeds: paired t when both sides have the same seeds, else Welch.

    Args:
        a (Mapping[int, float]): {seed: value} of side a (NaN values are dropped).
        b (Mapping[int, float]): {seed: value} of side b.
        level (float): confidence level of the interval.

    Returns:
        Difference: paired over the common seeds when both sides have the same seed set with >= 2 seeds; Welch over
        all values of each side when the seed sets differ and each side has >= 2 values; no interval and no p
        (``test`` "none (n = 1)") when fewer values exist; "none (no data)" when a side is empty.
    """
    a, b = _finite(a), _finite(b)
    nan = math.nan
    if not a or not b:
        return Difference(nan, nan, nan, nan, 0, len(a), len(b), NONE_EMPTY, None, (), level)
    if set(a) == set(b):
        seeds = sorted(a)
        if len(seeds) >= 2:
            return _paired(a, b, seeds, level)
        s = seeds[0]
        d = a[s] - b[s]
        return Difference(d, nan, nan, nan, 1, 1, 1, NONE_N1, None, ((s, d),), level)
    if min(len(a), len(b)) >= 2:
        return _welch(a, b, level)
    mean = float(np.mean(list(a.values())) - np.mean(list(b.values())))
    return Difference(mean, nan, nan, nan, 1, len(a), len(b), NONE_N1, None, (), level)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the input order.

    Args:
        pvalues (Sequence[float]): raw p-values of one family; NaN entries stay NaN and do not count in m.

    Returns:
        list[float]: adjusted p-values (monotone in the raw order, capped at 1).
    """
    p = [float(x) if x is not None else math.nan for x in pvalues]
    index = sorted((i for i, x in enumerate(p) if not math.isnan(x)), key=lambda i: p[i])
    m = len(index)
    out = [math.nan] * len(p)
    running = 0.0
    for rank, i in enumerate(index):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def power_paired(n, effect, sd_diff, alpha=0.05) -> float:
    """Power of a two-sided paired t-test with ``n`` seeds to detect a true mean difference ``effect``.

    Args:
        n (int): seeds (pairs); power is NaN for n < 2.
        effect (float): true mean of the per-seed differences (AP points).
        sd_diff (float): SD of the per-seed differences (AP points).
        alpha (float): two-sided level.

    Returns:
        float: P(reject) under the noncentral t with n - 1 df and noncentrality effect / (sd_diff / sqrt(n)).
    """
    if n < 2 or not sd_diff > 0 or math.isnan(effect):
        return math.nan
    df = n - 1
    nc = abs(effect) / (sd_diff / math.sqrt(n))
    crit = special.stdtrit(df, 1 - alpha / 2)
    with np.errstate(divide="ignore"):  # boost's nct warns for tiny df; its clipped values are right
        return float(np.clip(1.0 - special.nctdtr(df, nc, crit) + special.nctdtr(df, nc, -crit), 0.0, 1.0))


def seeds_needed(effect, sd_diff, alpha=0.05, power=0.8, max_n=100) -> int | None:
    """Smallest number of seeds for which a two-sided paired t-test reaches ``power`` at ``effect``.

    Args:
        effect (float): mean per-seed difference to detect (AP points).
        sd_diff (float): SD of the per-seed differences (AP points).
        alpha (float): two-sided level.
        power (float): wanted power.
        max_n (int): largest n searched.

    Returns:
        int | None: the smallest n in 2..max_n with power >= ``power``; None if none up to ``max_n`` (or the inputs
        are NaN / sd_diff <= 0 / effect = 0).
    """
    if effect is None or sd_diff is None or math.isnan(effect) or math.isnan(sd_diff) or sd_diff <= 0 or effect == 0:
        return None
    for n in range(2, max_n + 1):
        if power_paired(n, effect, sd_diff, alpha) >= power:
            return n
    return None
