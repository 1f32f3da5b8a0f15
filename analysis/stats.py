"""Seed statistics: mean +- sample std and number formatting (comparisons between arms: :mod:`analysis.comparisons`)."""

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
