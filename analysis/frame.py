"""The loaded runs as tidy frames, built once per report.

- :func:`metric_frame`: one row per run and metric: ``family, arm, variant, seed, metric, value`` (value in AP
  percent; NaN where COCOeval gave -1, undefined).
- :func:`info_frame`: one row per run: its hyper-parameters, control values and provenance.
- :func:`dynamics_frame`: one row per run and training scalar (``iou_thr``, ``beta``): the value in force at the
  first and at the last logged iteration.

Every summary and comparison of the report is computed from these frames (:mod:`analysis.results`).
"""

import math
import re

import pandas as pd

from dynrcnn.run_record import HYPERPARAMETERS, IOU_KEYS, SUMMARY_METRICS

#: Metric names of the frame: COCOeval's summary, then AP at each other single IoU threshold (AP55 ... AP95).
METRICS = SUMMARY_METRICS + tuple(f"AP{k[2:]}" for k in IOU_KEYS if k not in ("0.50", "0.75"))
#: AP at every single IoU threshold, in threshold order (AP50 ... AP95).
IOU_METRICS = tuple(f"AP{k[2:]}" for k in IOU_KEYS)
#: The training scalars whose start and end the report compares (scalars.json keys).
DYNAMICS_KEYS = {"iou_thr": "dynrcnn/iou_thr", "beta": "dynrcnn/beta"}
RUN_KEYS = ("family", "arm", "variant", "seed")
#: The provenance fields the per-run info frame carries (a subset of ``dynrcnn.run_record.PROVENANCE_KEYS``).
INFO_PROVENANCE_KEYS = (
    "gpus",
    "images_per_gpu",
    "lr",
    "device",
    "cpu_model",
    "cpu_capability",
    "wall_time_s",
    "git_commit",
    "config_sha256",
)


def metric_key(name):
    """Key of a metric name in :attr:`analysis.runs.Run.metrics` (``AP60`` -> ``AP@0.60``)."""
    if name in SUMMARY_METRICS:
        return name
    m = re.fullmatch(r"AP(\d\d)", name)
    if not m:
        raise KeyError(f"unknown metric {name!r}")
    return f"AP@0.{m.group(1)}"


def iou_of(metric):
    """float: the IoU threshold of a single-threshold metric (``AP90`` -> 0.9)."""
    return int(metric[2:]) / 100


def metric_frame(runs):
    """One row per run and metric (value in percent).

    Args:
        runs (list[Run]): the runs read (:func:`analysis.runs.load_runs`).

    Returns:
        pd.DataFrame: columns ``family, arm, variant, seed, metric, value``.
    """
    rows = [(r.family, r.arm, r.variant, r.seed, m, 100.0 * r.metrics[metric_key(m)]) for r in runs for m in METRICS]
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "metric", "value"])


def info_frame(runs):
    """One row per run: dataset, hyper-parameters, control values (NaN for other runs), provenance, path.

    Args:
        runs (list[Run]): the runs read.

    Returns:
        pd.DataFrame: in the runs' order.
    """
    rows = []
    for r in runs:
        control = r.control or {}
        rows.append(
            dict(
                family=r.family,
                arm=r.arm,
                variant=r.variant,
                seed=r.seed,
                dataset=r.dataset,
                **{h: r.hyperparameters[h] for h in HYPERPARAMETERS},
                control_kind=control.get("kind"),
                control_iou_thr=control.get("iou_thr", math.nan),
                control_beta=control.get("beta", math.nan),
                control_loss=control.get("loss"),
                **{k: r.provenance.get(k) for k in INFO_PROVENANCE_KEYS},
                path=str(r.path),
            )
        )
    return pd.DataFrame(rows)


def _ends(frame, column):
    """(first, last) non-NaN value of ``column`` in step order, NaNs when absent."""
    if column not in frame:
        return math.nan, math.nan
    values = frame[column].dropna()
    return (float(values.iloc[0]), float(values.iloc[-1])) if len(values) else (math.nan, math.nan)


def dynamics_frame(runs):
    """One row per run and training scalar: the value in force at the first and last logged iteration.

    Args:
        runs (list[Run]): the runs read.

    Returns:
        pd.DataFrame: columns ``family, arm, variant, seed, scalar, initial, final`` (scalar: ``iou_thr`` or
        ``beta``).
    """
    rows = []
    for r in runs:
        for name, column in DYNAMICS_KEYS.items():
            rows.append((r.family, r.arm, r.variant, r.seed, name, *_ends(r.train, column)))
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "scalar", "initial", "final"])
