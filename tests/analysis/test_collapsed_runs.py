"""analysis.collapsed_runs: a run far below the rest of its arm (a diverged training) is named on the verdict page
and under the runs table, by one rule, and kept in the statistics."""

import math

import pandas as pd

from analysis.collapsed_runs import FRACTION, collapsed_runs, render_notice
from analysis.report import provenance_notices
from analysis.results import compute
from dynrcnn.run_record import IOU_KEYS, SUMMARY_METRICS
from tests.analysis.fake_runs import memory_run


def run(arm, seed, ap, losses=(2.0, 1.5, 1.2), variant="default"):
    train = pd.DataFrame({"step": [5 * (i + 1) for i in range(len(losses))], "loss": list(losses)})
    metrics = {m: ap / 100 for m in (*SUMMARY_METRICS, *(f"AP@{k}" for k in IOU_KEYS))}
    return memory_run(arm, seed, metrics, variant=variant, train=train)


def test_a_run_below_half_the_median_of_its_arms_others_is_named_with_its_loss_peak():
    runs = [run("dynamic_rcnn", s, ap) for s, ap in enumerate((28.0, 29.0, 30.0, 27.0))]
    runs.append(run("dynamic_rcnn", 8, 1.4, losses=(2.05, 11.61, 0.9)))
    runs += [run("baseline", s, ap) for s, ap in enumerate((26.0, 27.0, 25.0, 26.5, 26.2))]
    (found,) = collapsed_runs(compute(runs), runs)
    assert found.run == "dynamic_rcnn/default/seed8" and math.isclose(found.ap, 1.4)
    assert found.others_median == 28.5 and found.others == 4
    assert found.loss_peak == (10, 11.61, 2.05)
    notice = render_notice([found])
    assert notice.startswith("**1 run far below the rest of its arm**")
    assert "- `dynamic_rcnn/default/seed8`: AP 1.4 against a median of 28.5 over its 4 other runs; its training " in (
        notice
    )
    assert "peaked at 11.61 at iteration 10 (first logged: 2.05)" in notice
    assert "Kept in every statistic" in notice


def test_the_rule_needs_three_runs_and_stops_at_the_fraction():
    just_above = [run("dla", s, ap) for s, ap in enumerate((30.0, 30.0, 30.0 * FRACTION + 0.1))]
    two = [run("dsl", 0, 30.0), run("dsl", 1, 1.0)]
    other_variant = [run("dla", 9, 1.0, variant="ki30-kb6-c10")]
    undefined = [run("baseline", s, ap) for s, ap in enumerate((30.0, 30.0, math.nan))]
    mixed = just_above + two + other_variant + undefined
    assert collapsed_runs(compute(mixed), mixed) == []
    assert render_notice([]) == ""
    below = just_above[:2] + [run("dla", 2, 30.0 * FRACTION - 0.1)]
    assert [c.run for c in collapsed_runs(compute(below), below)] == ["dla/default/seed2"]


def test_the_notice_opens_the_verdict_page_and_the_runs_tables_notes():
    runs = [run("baseline", s, ap) for s, ap in enumerate((26.0, 27.0, 2.0))]
    summary_lines, table_notes = provenance_notices(["given"], [], collapsed_runs(compute(runs), runs))
    assert summary_lines[0] == "given" and summary_lines[1].startswith("**1 run far below")
    assert table_notes[0] == "given" and any(n.startswith("`baseline/default/seed2`: AP 2.0") for n in table_notes)
