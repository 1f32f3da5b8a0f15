import math

import numpy as np
import pytest
from scipy import stats

from analysis.comparisons import holm, paired_difference, power_paired, seeds_needed

A = {0: 33.1, 1: 35.4, 2: 34.0, 3: 36.2, 4: 33.9}
B = {0: 30.2, 1: 33.9, 2: 32.8, 3: 33.0, 4: 33.1}


def test_paired_matches_scipy_ttest_rel():
    d = paired_difference(A, B)
    a, b = np.array(list(A.values())), np.array(list(B.values()))
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    assert d.test == "paired t" and d.n == 5 and (d.n_a, d.n_b) == (5, 5)
    assert math.isclose(d.mean, float(np.mean(a - b)))
    assert math.isclose(d.p, ref.pvalue, rel_tol=1e-12)
    assert math.isclose(d.lo, ci.low, rel_tol=1e-12) and math.isclose(d.hi, ci.high, rel_tol=1e-12)
    assert d.per_seed == tuple((s, A[s] - B[s]) for s in range(5))
    assert d.seeds_agree == 5
    assert math.isclose(d.sd_diff, float(np.std(a - b, ddof=1)))


def test_paired_uses_the_pairing():
    # Same values, seeds shuffled on one side: the paired test sees other differences, Welch would not.
    shuffled = {0: B[3], 1: B[0], 2: B[4], 3: B[1], 4: B[2]}
    assert not math.isclose(paired_difference(A, B).p, paired_difference(A, shuffled).p)


def test_seeds_agree_counts_the_sign_of_the_mean():
    d = paired_difference({0: 1.0, 1: 2.0, 2: 0.0}, {0: 0.0, 1: 0.0, 2: 0.5})
    assert d.mean > 0 and d.seeds_agree == 2


def test_interval_level_is_used():
    d90, d95 = paired_difference(A, B, level=0.9), paired_difference(A, B)
    assert d90.level == 0.9 and d95.lo < d90.lo < d90.hi < d95.hi


def test_welch_fallback_when_seed_sets_differ():
    b = {k: v for k, v in B.items() if k != 4} | {7: 31.0}
    d = paired_difference(A, b)
    ref = stats.ttest_ind(list(A.values()), list(b.values()), equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert d.test == "Welch t" and d.per_seed == () and d.seeds_agree is None
    assert math.isclose(d.p, ref.pvalue, rel_tol=1e-12)
    assert math.isclose(d.lo, ci.low, rel_tol=1e-9) and math.isclose(d.hi, ci.high, rel_tol=1e-9)
    assert math.isclose(d.mean, np.mean(list(A.values())) - np.mean(list(b.values())))


def test_single_seed_has_no_interval():
    d = paired_difference({3: 40.0}, {3: 38.5})
    assert d.test == "none (n = 1)" and d.n == 1 and math.isclose(d.mean, 1.5)
    assert math.isnan(d.lo) and math.isnan(d.hi) and math.isnan(d.p) and not d.has_interval


def test_no_data_and_nan_values():
    d = paired_difference({}, B)
    assert d.test == "none (no data)" and d.n == 0 and math.isnan(d.mean)
    # NaN values are dropped: the seed sets then differ and the comparison is Welch's.
    assert paired_difference(A | {4: math.nan}, B).test == "Welch t"


def test_holm_worked_example():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_ignores_nan_and_caps_at_one():
    adjusted = holm([0.2, math.nan, 0.6])
    assert math.isnan(adjusted[1]) and adjusted[0] == pytest.approx(0.4) and adjusted[2] == pytest.approx(0.6)
    assert holm([0.7, 0.8]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_power_grows_with_seeds_and_effect():
    assert power_paired(5, 1.0, 1.0) < power_paired(10, 1.0, 1.0) < power_paired(20, 1.0, 1.0)
    assert power_paired(10, 0.5, 1.0) < power_paired(10, 1.0, 1.0)
    assert math.isnan(power_paired(1, 1.0, 1.0))


def test_power_matches_simulation():
    rng = np.random.default_rng(0)
    diffs = rng.normal(1.0, 1.5, size=(20000, 6))
    rejected = stats.ttest_1samp(diffs, 0.0, axis=1).pvalue < 0.05
    assert power_paired(6, 1.0, 1.5) == pytest.approx(rejected.mean(), abs=0.015)


def _power(n, effect, sd, alpha=0.05):
    # Independent of the module: P(|T| > t_crit) for T ~ noncentral t(n - 1, effect / (sd / sqrt(n))).
    crit = stats.t.ppf(1 - alpha / 2, n - 1)
    dist = stats.nct(n - 1, effect * math.sqrt(n) / sd)
    return dist.sf(crit) + dist.cdf(-crit)


@pytest.mark.parametrize("effect, sd", [(1.9, 1.0), (1.0, 1.3), (0.5, 0.4), (-2.4, 2.2)])
def test_seeds_needed_is_the_smallest_n_with_enough_power(effect, sd):
    brute = next(k for k in range(2, 101) if _power(k, abs(effect), sd) >= 0.8)
    assert seeds_needed(effect, sd) == brute
    assert brute > 2 and _power(brute - 1, abs(effect), sd) < 0.8


def test_seeds_needed_monotone():
    needs = [seeds_needed(1.0, sd) for sd in (0.3, 0.6, 1.0, 1.5, 2.0)]
    assert needs == sorted(needs) and needs[0] < needs[-1]
    assert [seeds_needed(e, 1.0) for e in (2.0, 1.0, 0.5)] == sorted(seeds_needed(e, 1.0) for e in (2.0, 1.0, 0.5))


def test_seeds_needed_none_when_out_of_reach():
    assert seeds_needed(0.1, 5.0, max_n=10) is None
    assert seeds_needed(1.0, math.nan) is None and seeds_needed(0.0, 1.0) is None


def test_equal_differences_have_no_spread():
    # every seed gains exactly 0.5 (up to rounding): no spread, t infinite, p = 0 as scipy gives; all zero: no test
    d = paired_difference({0: 30.1, 1: 31.2, 2: 29.3}, {0: 29.6, 1: 30.7, 2: 28.8})
    assert d.p == 0.0 and d.lo == d.hi == pytest.approx(0.5)
    same = paired_difference({0: 30.0, 1: 31.0}, {0: 30.0, 1: 31.0})
    assert math.isnan(same.p) and same.mean == 0.0
