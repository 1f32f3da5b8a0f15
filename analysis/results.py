"""Every summary and comparison of the report, computed once from the tidy frames (:mod:`analysis.frame`).

Tables, figures and the verdict page are views of a :class:`Results`; none regroups the runs or recomputes a
statistic. Comparisons are paired over seeds (:func:`analysis.comparisons.paired_difference`) and their p-values are
Holm-adjusted within a *family*:

- ``gains/{metric}``: each arm (DLA only, DSL only, Dynamic R-CNN) against the baseline, 3 comparisons;
- ``additivity/{metric}``: Dynamic R-CNN against DLA only and against DSL only, 2 comparisons;
- ``controls_vs_baseline/{metric}`` and ``controls_vs_dynamic_rcnn/{metric}``: each control against that side;
- ``sweeps/{arm}/{metric}``: each sweep variant of an arm against the arm's default variant;
- ``iou_growth/{metric}``: per seed, Dynamic R-CNN's gain over the baseline at ``metric`` minus its gain at AP50
  (seeds both arms have), one test per metric (a family of 1);
- ``dynamics``: Dynamic R-CNN's final minus initial IoU threshold and beta (per seed), 2 comparisons.

All arms are the ``default`` variant unless named otherwise.
"""

import math
from dataclasses import dataclass, field

import pandas as pd

from dynrcnn.run_record import ARMS, CONTROL_ARM, DEFAULT_VARIANT, STATIC_SOURCE_ARM, parse_control

from .comparisons import Difference, holm, paired_difference
from .frame import IOU_METRICS, METRICS, dynamics_frame, info_frame, metric_frame
from .stats import Summary, summarize
from .style import control_order

BASELINE = (ARMS[0], DEFAULT_VARIANT)
FULL = (STATIC_SOURCE_ARM, DEFAULT_VARIANT)
#: Metrics the sweeps compare against their default.
SWEEP_METRICS = ("AP", "AP50", "AP75", "AP90")


@dataclass(frozen=True)
class Comparison:
    """One comparison ``a - b`` with its Holm-adjusted p-value.

    Args:
        family (str): the Holm family, e.g. ``gains/AP`` (see the module docstring).
        a (tuple[str, str]): (arm, variant) of side a.
        b (tuple[str, str]): (arm, variant) of side b.
        metric (str): metric name (``AP``, ``AP90``, ...) or training scalar (``iou_thr``, ``beta``).
        diff (Difference): the paired (or Welch) difference.
        p_adj (float): Holm-adjusted p within ``family`` (NaN when ``diff.p`` is NaN).
        family_size (int): comparisons with a p-value in the family (Holm's m).
    """

    family: str
    a: tuple
    b: tuple
    metric: str
    diff: Difference
    p_adj: float
    family_size: int


def _adjust(family, entries):
    """Comparisons of one family: ``entries`` is a list of (a, b, metric, Difference)."""
    adjusted = holm([d.p for *_, d in entries])
    m = sum(not math.isnan(d.p) for *_, d in entries)
    return [Comparison(family, a, b, metric, d, p, m) for (a, b, metric, d), p in zip(entries, adjusted)]


@dataclass
class Results:
    """The report's numbers: tidy frames, per-group seed values, summaries and comparisons.

    Args:
        metrics (pd.DataFrame): :func:`analysis.frame.metric_frame`.
        info (pd.DataFrame): :func:`analysis.frame.info_frame`.
        dynamics (pd.DataFrame): :func:`analysis.frame.dynamics_frame`.
    """

    metrics: pd.DataFrame
    info: pd.DataFrame
    dynamics: pd.DataFrame
    _values: dict = field(default_factory=dict, repr=False)
    _summaries: dict = field(default_factory=dict, repr=False)
    comparisons: dict = field(default_factory=dict, repr=False)

    def values(self, group, metric):
        """dict[int, float]: {seed: value in percent} of (arm, variant) at ``metric`` (empty without runs)."""
        return self._values.get((*group, metric), {})

    def summary(self, group, metric):
        """Summary: mean ± sample std over the seeds of (arm, variant) at ``metric``."""
        key = (*group, metric)
        if key not in self._summaries:
            self._summaries[key] = summarize(list(self.values(group, metric).values()))
        return self._summaries[key]

    def seeds(self, group):
        """list[int]: the seeds of (arm, variant), sorted."""
        return sorted(self.info.loc[(self.info.arm == group[0]) & (self.info.variant == group[1]), "seed"])

    def groups(self):
        """list[tuple[str, str]]: every (arm, variant) with runs, in the runs' order."""
        return list(dict.fromkeys(zip(self.info.arm, self.info.variant))) if len(self.info) else []

    def controls(self):
        """list[str]: the control variants with runs, in control order."""
        found = [v for a, v in self.groups() if a == CONTROL_ARM and parse_control(v)]
        return sorted(found, key=control_order)

    def sweeps(self, arm):
        """list[str]: the sweep variants of ``arm`` (neither default nor a control)."""
        return [v for a, v in self.groups() if a == arm and v != DEFAULT_VARIANT and not parse_control(v)]

    def comparison(self, family, a, b, metric):
        """Comparison | None: ``a - b`` at ``metric`` in ``family`` (family name without the metric suffix)."""
        return self.comparisons.get((family, a, b, metric))

    def family(self, name):
        """list[Comparison]: the comparisons of one Holm family, e.g. ``gains/AP``."""
        return [c for c in self.comparisons.values() if c.family == name]

    def dynamics_values(self, group, scalar, end):
        """dict[int, float]: {seed: value} of a training scalar at ``end`` (``initial`` or ``final``)."""
        d = self.dynamics
        rows = d[(d.arm == group[0]) & (d.variant == group[1]) & (d.scalar == scalar)].dropna(subset=[end])
        return dict(zip(rows.seed.astype(int), rows[end].astype(float)))


def _seed_values(metrics):
    """{(arm, variant, metric): {seed: value}} without NaN values (undefined metrics)."""
    out = {}
    for (arm, variant, metric), rows in metrics.groupby(["arm", "variant", "metric"], sort=False):
        out[(arm, variant, metric)] = dict(zip(rows.seed.astype(int), rows.value.astype(float)))
    return out


def _per_seed_gain(a, b):
    """{seed: a - b} over the seeds both sides have."""
    return {s: a[s] - b[s] for s in sorted(set(a) & set(b))}


def _family_entries(res):
    """{family name: [(a, b, metric, Difference), ...]} of every comparison of the report."""
    fams = {}

    def add(name, a, b, metric):
        if res.values(a, metric) or res.values(b, metric):
            diff = paired_difference(res.values(a, metric), res.values(b, metric))
            fams.setdefault(f"{name}/{metric}", []).append((a, b, metric, diff))

    for metric in METRICS:
        for arm in ARMS[1:]:
            add("gains", (arm, DEFAULT_VARIANT), BASELINE, metric)
        for arm in ARMS[1:3]:
            add("additivity", FULL, (arm, DEFAULT_VARIANT), metric)
        for variant in res.controls():
            add("controls_vs_baseline", (CONTROL_ARM, variant), BASELINE, metric)
            add("controls_vs_dynamic_rcnn", (CONTROL_ARM, variant), FULL, metric)
    for arm in ARMS:
        for variant in res.sweeps(arm):
            for metric in SWEEP_METRICS:
                add(f"sweeps/{arm}", (arm, variant), (arm, DEFAULT_VARIANT), metric)
    for metric in IOU_METRICS[1:]:
        gain_at = {m: _per_seed_gain(res.values(FULL, m), res.values(BASELINE, m)) for m in (metric, IOU_METRICS[0])}
        if gain_at[metric]:
            diff = paired_difference(gain_at[metric], gain_at[IOU_METRICS[0]])
            fams[f"iou_growth/{metric}"] = [(FULL, BASELINE, metric, diff)]
    dyn = [
        (FULL, FULL, scalar, paired_difference(*(res.dynamics_values(FULL, scalar, e) for e in ("final", "initial"))))
        for scalar in ("iou_thr", "beta")
    ]
    fams["dynamics"] = dyn
    return fams


def compute(runs):
    """Build the report's :class:`Results` from the runs read.

    Args:
        runs (list[Run]): :func:`analysis.runs.load_runs`.

    Returns:
        Results
    """
    metrics = metric_frame(runs)
    res = Results(metrics, info_frame(runs), dynamics_frame(runs))
    res._values = _seed_values(metrics.dropna(subset=["value"]))
    # a group whose metric is undefined for some seed keeps an "undefined" summary (not a mean over fewer seeds)
    for key, rows in metrics.groupby(["arm", "variant", "metric"], sort=False):
        if rows.value.isna().any():
            res._summaries[key] = Summary(len(rows), undefined=True)
            res._values[key] = {}
    for name, entries in _family_entries(res).items():
        for c in _adjust(name, entries):
            res.comparisons[(c.family.rsplit("/", 1)[0], c.a, c.b, c.metric)] = c
    return res
