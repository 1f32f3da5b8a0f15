"""Seed statistics: mean +- sample std, gains with their standard error, number formatting."""

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation of one metric over seeds, in percent.

    Args:
        n (int): number of seeds.
        mean (float): mean (NaN when n = 0 or undefined).
        std (float): sample std, ddof = 1 (NaN when n < 2).
        undefined (bool): COCOeval gave -1 (no ground truth in that range) for some seed.
    """

    n: int
    mean: float = math.nan
    std: float = math.nan
    undefined: bool = False


def summarize(values):
    """Summarize one metric over seeds.

    Args:
        values (list[float]): one value per seed (NaN = undefined).

    Returns:
        Summary
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return Summary(0)
    if np.isnan(values).any():
        return Summary(n, undefined=True)
    std = float(np.std(values, ddof=1)) if n > 1 else math.nan
    return Summary(n, float(np.mean(values)), std)


@dataclass(frozen=True)
class Gain:
    """Difference of two seed means with its standard error.

    Args:
        value (float): mean(arm) - mean(baseline).
        se (float): sqrt(s_a^2 / n_a + s_b^2 / n_b); NaN when either side has n < 2.
        n_arm (int): seeds of the arm.
        n_base (int): seeds of the baseline.
    """

    value: float
    se: float
    n_arm: int
    n_base: int

    @property
    def significant(self):
        """bool: |gain| > 2 standard errors (False when no spread can be estimated)."""
        return not math.isnan(self.se) and abs(self.value) > 2 * self.se


def gain(arm, base):
    """Gain of ``arm`` over ``base``.

    Args:
        arm (Summary): the arm's summary.
        base (Summary): the baseline's summary.

    Returns:
        Gain | None: None when either side has no defined value.
    """
    if arm.n == 0 or base.n == 0 or arm.undefined or base.undefined:
        return None
    se = math.sqrt(arm.std**2 / arm.n + base.std**2 / base.n) if min(arm.n, base.n) > 1 else math.nan
    return Gain(arm.mean - base.mean, se, arm.n, base.n)


def _clean(x, digits):
    # Avoid '-0.0' for values that round to zero.
    return 0.0 if round(x, digits) == 0 else x


def fmt(x, digits=1, signed=False):
    """Format a number with fixed decimals; '—' for NaN."""
    if x is None or math.isnan(x):
        return "—"
    x = _clean(x, digits)
    return f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"


def fmt_summary(s, digits=1):
    """'38.1 ± 0.2' for n >= 2, '38.1' for n = 1, '—' for no run, 'undef.' for COCOeval's -1."""
    if s.n == 0:
        return "—"
    if s.undefined:
        return "undef."
    if s.n == 1:
        return fmt(s.mean, digits)
    return f"{fmt(s.mean, digits)} ± {fmt(s.std, digits)}"


def fmt_gain(g, digits=1):
    """'+1.2 ± 0.3 *' (gain ± SE, * when |gain| > 2 SE); '+1.2 (n=1)' without spread; '—' for none."""
    if g is None:
        return "—"
    if math.isnan(g.se):
        return f"{fmt(g.value, digits, signed=True)} (n=1)"
    return f"{fmt(g.value, digits, signed=True)} ± {fmt(g.se, digits)}{' *' if g.significant else ''}"
