import math

from analysis.stats import fmt, fmt_summary, summarize


def test_summarize_uses_sample_std():
    s = summarize([31.0, 32.0, 30.0])
    assert (s.n, s.mean, s.std) == (3, 31.0, 1.0)
    assert math.isclose(summarize([30.0, 32.0]).std, math.sqrt(2))


def test_single_seed_and_no_seed():
    assert fmt_summary(summarize([40.0])) == "40.0"
    assert math.isnan(summarize([40.0]).std)
    assert fmt_summary(summarize([])) == "—"


def test_undefined_metric():
    s = summarize([30.0, float("nan")])
    assert s.undefined and fmt_summary(s) == "undef."


def test_fmt_avoids_negative_zero():
    assert fmt(-0.04, signed=True) == "+0.0"
    assert fmt(-0.06, signed=True) == "-0.1"
    assert fmt(float("nan")) == "—"
