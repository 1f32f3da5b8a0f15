"""The plan's benchmark files are those the rules' ``benchmark:`` directives write, one per train, evaluate and
epoch_detections job, and analysis.compute reads each back to its job."""

import re
from pathlib import Path

from analysis.compute import _PATH_RE, RULES
from dynrcnn.pipeline import build

REPO = Path(__file__).resolve().parents[2]


def _rule_patterns():
    text = "".join((REPO / "workflow" / "rules" / name).read_text() for name in ("train.smk", "evaluate.smk"))
    return dict(re.findall(r'rule (\w+):.*?benchmark:\s*"([^"]+)"', text, flags=re.S))


def test_plan_benchmark_files_are_the_rules_benchmark_files(make_config):
    plan = build(make_config("default.yaml"))
    patterns = _rule_patterns()
    assert set(patterns) == set(RULES)
    expected = [patterns["train"].format(family=plan.family, **run._asdict()) for run in plan.runs]
    expected += [patterns["evaluate"].format(family=plan.family, **run._asdict()) for run in plan.runs]
    expected += [
        patterns["epoch_detections"].format(family=plan.family, **run._asdict()) for run in plan.epoch_detection_runs
    ]
    assert plan.benchmark_files == expected and len(expected) == 16 + 16 + 4
    for path in plan.benchmark_files:
        match = _PATH_RE.search(path)
        assert match and match["family"] == "synthetic"
