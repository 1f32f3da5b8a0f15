import math

from analysis.stats import Summary, fmt, fmt_gain, fmt_summary, gain, summarize


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
    assert gain(s, summarize([1.0, 2.0])) is None


def test_gain_standard_error_and_marker():
    g = gain(summarize([33.0, 35.0, 34.0]), summarize([30.0, 31.0, 32.0]))
    assert math.isclose(g.value, 3.0) and math.isclose(g.se, math.sqrt(2 / 3))
    assert g.significant and fmt_gain(g) == "+3.0 ± 0.8 *"
    small = gain(summarize([30.0, 32.0]), summarize([30.0, 31.0, 32.0]))
    assert not small.significant and fmt_gain(small) == "+0.0 ± 1.2"


def test_gain_without_spread():
    g = gain(Summary(1, 40.0), summarize([30.0, 31.0, 32.0]))
    assert math.isnan(g.se) and not g.significant and fmt_gain(g) == "+9.0 (n=1)"


def test_fmt_avoids_negative_zero():
    assert fmt(-0.04, signed=True) == "+0.0"
    assert fmt(-0.06, signed=True) == "-0.1"
    assert fmt(float("nan")) == "—"


def test_gain_between_one_and_two_standard_errors_is_not_marked():
    g = gain(summarize([32.5, 31.5, 32.5]), summarize([30.0, 31.0, 32.0]))
    assert 1 * g.se < g.value < 2 * g.se
    assert not g.significant and not fmt_gain(g).endswith("*")
