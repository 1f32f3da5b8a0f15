"""Report tables (Markdown, LaTeX with booktabs, CSV) built from runs and reference numbers.

Every table is a :class:`Table`: display cells (numbers in percent, one decimal; reference numbers
with their status marker), notes printed under it, and a machine-readable frame for the CSV.
"""

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dynrcnn.families import comparison_preface
from dynrcnn.run_record import (
    CONTROL_ARM,
    DEFAULT_VARIANT,
    HYPERPARAMETERS,
    STATIC_SOURCE_ARM,
    SUMMARY_METRICS,
    parse_control,
)

from . import references as R
from .stats import fmt, fmt_gain, fmt_summary, gain, summarize
from .style import ARM_LABELS, ARMS, control_label, control_order

ABLATION_METRICS = ("AP", "AP50", "AP60", "AP70", "AP80", "AP90")
BREAKDOWN_METRICS = SUMMARY_METRICS
GAIN_METRICS = ("AP", "AP50", "AP60", "AP70", "AP75", "AP80", "AP90", "APS", "APM", "APL")
SWEEP_METRICS = ("AP", "AP50", "AP75", "AP90")
#: Per-run metrics of the runs table: Markdown / LaTeX, and CSV (COCOeval's summary, then AP at each other IoU).
RUN_METRICS = SUMMARY_METRICS + ("AP60", "AP70", "AP80", "AP90")
RUN_CSV_METRICS = SUMMARY_METRICS + tuple(f"AP{t}" for t in range(55, 100, 5) if t != 75)

SYNTHETIC_NOTE = (
    "Dataset: synthetic. The paper's and the other references' numbers are for COCO and are "
    "shown for layout only: differences against them say nothing about the reproduction."
)
COCO_NOTE = "Dataset: COCO; our runs are evaluated on val2017."
SEEDS_NOTE = (
    "Ours: mean ± sample standard deviation (ddof = 1) over the n seeds of the `default` variant, "
    'COCOeval AP in percent; with n = 1 the single value is shown; "—": no run or no reference '
    'number; "undef.": COCOeval gives -1 (no ground truth in that range).'
)
CSV_FLOAT_FORMAT = "%.4f"


@dataclass
class Part:
    """A further tabular printed under a table's main one (same notes, same CSV).

    Args:
        title (str): its heading.
        header (list[str]): column names.
        rows (list[list[str]]): display cells.
    """

    title: str
    header: list
    rows: list


def _md_tabular(header, rows):
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]


def _latex_tabular(header, rows):
    """Lines of a booktabs tabular; a wide one is scaled to the text width (needs graphicx)."""
    wide = len(header) > 8
    lines = [r"\resizebox{\linewidth}{!}{%"] if wide else []
    lines += [
        rf"\begin{{tabular}}{{{'l' + 'r' * (len(header) - 1)}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines + (["}"] if wide else [])


@dataclass
class Table:
    """One report table.

    Args:
        name (str): file stem under ``tables/``.
        title (str): heading / LaTeX caption.
        header (list[str]): column names.
        rows (list[list[str]]): display cells.
        notes (list[str]): paragraphs printed under the table.
        data (pd.DataFrame): machine-readable content, written as the CSV.
        preface (list[str]): lines printed in bold above the table (the dataset warning).
        parts (list[Part]): further tabulars printed under the main one, before the notes.
        basis (list[str]): above a comparison with the paper, what produced our numbers: the config family, its
            statistics rule and its deviations from the paper (:func:`dynrcnn.families.comparison_preface`).
    """

    name: str
    title: str
    header: list
    rows: list
    notes: list
    data: pd.DataFrame
    preface: list = field(default_factory=list)
    parts: list = field(default_factory=list)
    basis: list = field(default_factory=list)

    def to_markdown(self):
        """str: the table as GitHub-flavoured Markdown with its notes."""
        lines = [f"## {self.title}", ""]
        lines += [f"**{p}**\n" for p in self.preface]
        if self.basis:
            lines += [self.basis[0], ""] + [f"{line}  " for line in self.basis[1:]] + [""]
        lines += _md_tabular(self.header, self.rows)
        for part in self.parts:
            lines += ["", f"### {part.title}", ""] + _md_tabular(part.header, part.rows)
        if self.notes:
            lines += ["", "Notes:", ""]
            lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def to_latex(self):
        """str: a booktabs ``table`` environment with the notes under the tabular."""
        lines = [
            r"% requires \usepackage{booktabs}",
            r"\begin{table}[htbp]",
            r"\centering",
            r"\small",
            rf"\caption{{{latex_escape(self.title)}}}",
            rf"\label{{tab:{self.name}}}",
        ]
        lines += [rf"\textbf{{{latex_escape(p)}}}\par\medskip" for p in self.preface]
        if self.basis:
            lines += [r"{\footnotesize"] + [latex_escape(line) + r"\par" for line in self.basis] + [r"}\medskip"]
        lines += _latex_tabular(self.header, self.rows)
        for part in self.parts:
            lines += [r"\par\medskip", rf"\textbf{{{latex_escape(part.title)}}}\par\smallskip"]
            lines += _latex_tabular(part.header, part.rows)
        if any(len(h) > 8 for h in [self.header] + [p.header for p in self.parts]):
            lines[0] += ", \\usepackage{graphicx}"
        if self.notes:
            lines += [r"\par\smallskip", r"\begin{minipage}{\linewidth}\footnotesize"]
            lines += [latex_escape(n) + r"\par" for n in self.notes]
            lines.append(r"\end{minipage}")
        lines.append(r"\end{table}")
        return "\n".join(lines) + "\n"

    def to_csv(self):
        """str: the machine-readable frame as CSV."""
        return self.data.to_csv(index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")

    def write(self, tables_dir):
        """Write ``{name}.md``, ``{name}.tex`` and ``{name}.csv``.

        Args:
            tables_dir (str | Path): output folder (created).

        Returns:
            list[Path]: the written files.
        """
        tables_dir = Path(tables_dir)
        tables_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for ext, text in (("md", self.to_markdown()), ("tex", self.to_latex()), ("csv", self.to_csv())):
            path = tables_dir / f"{self.name}.{ext}"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "Δ": r"$\Delta$",
    "×": r"$\times$",
    "—": "---",
    "−": "$-$",
    "β": r"$\beta$",
    "≥": r"$\geq$",
    "*": r"$^{*}$",
    "`": "",
}


def latex_escape(text):
    """Escape LaTeX specials and map the few Unicode symbols the tables use."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def metric_key(name):
    """Key of a table metric in :attr:`Run.metrics` (``AP60`` -> ``AP@0.60``)."""
    if name in SUMMARY_METRICS:
        return name
    m = re.fullmatch(r"AP(\d\d)", name)
    if not m:
        raise KeyError(f"unknown metric {name!r}")
    return f"AP@0.{m.group(1)}"


def percent(runs, metric):
    """The metric of each run in percent (NaN stays NaN)."""
    key = metric_key(metric)
    return [100.0 * r.metrics[key] for r in runs]


def group_runs(runs):
    """dict[(arm, variant), list[Run]] in arm order."""
    groups = defaultdict(list)
    for r in runs:
        groups[(r.arm, r.variant)].append(r)
    return dict(groups)


def default_runs(runs):
    """dict[arm, list[Run]] of the ``default`` variant (arms without runs map to [])."""
    groups = group_runs(runs)
    return {arm: groups.get((arm, DEFAULT_VARIANT), []) for arm in ARMS}


def dataset_preface(dataset):
    """Warning printed above the tables that compare with the paper."""
    return [SYNTHETIC_NOTE] if dataset == "synthetic" else []


def dataset_note(dataset):
    return SYNTHETIC_NOTE if dataset == "synthetic" else COCO_NOTE


def seeds_text(runs):
    return ",".join(str(r.seed) for r in runs)


def partial_seed_notes(groups):
    """Notes for arms that have fewer seeds than the union of seeds of all arms.

    Args:
        groups (dict[str, list[Run]]): label -> runs.

    Returns:
        list[str]
    """
    all_seeds = sorted({r.seed for rs in groups.values() for r in rs})
    notes = []
    for label, rs in groups.items():
        have = sorted(r.seed for r in rs)
        if rs and have != all_seeds:
            missing = sorted(set(all_seeds) - set(have))
            notes.append(
                f"Partial seeds: {label} has n = {len(have)} (seeds {', '.join(map(str, have))}); "
                f"missing seeds {', '.join(map(str, missing))}."
            )
    return notes


def _status_notes(used):
    """One note per (arm, status, note) of the non-verified references a table prints."""
    grouped = defaultdict(list)
    for who, ref in used:
        if ref.status != "verified":
            grouped[(who, ref.status, ref.note)].append(ref.metric)
    return [
        f"{who}, {', '.join(metrics)} {R.STATUS_MARKS[status]} ({status}): {note}."
        for (who, status, note), metrics in grouped.items()
    ]


def ablation_table(runs, refs, dataset):
    """Table 1: the paper's component ablation, ours against the paper per arm.

    Args:
        runs (list[Run]): all runs (the ``default`` variant is used).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    by_arm = default_runs(runs)
    header = ["Arm", "n"]
    for m in ABLATION_METRICS:
        header += [f"{m} ours", f"{m} paper", f"{m} Δ"]
    rows, data, used = [], [], []
    for arm in ARMS:
        rs = by_arm[arm]
        row = [ARM_LABELS[arm], str(len(rs))]
        for m in ABLATION_METRICS:
            s = summarize(percent(rs, m))
            ref = R.find(refs, "ablation", arm, m, source_key="paper")
            diff = s.mean - ref.value if ref is not None else math.nan
            if ref is not None:
                used.append((ARM_LABELS[arm], ref))
            approx = "~" if ref is not None and ref.approx else ""
            row += [
                fmt_summary(s),
                ref.format() if ref else "—",
                f"{approx}{fmt(diff, signed=True)} {ref.mark}" if ref and not math.isnan(diff) else "—",
            ]
            data.append(
                dict(
                    arm=arm,
                    n=s.n,
                    seeds=seeds_text(rs),
                    metric=m,
                    ours_mean=s.mean,
                    ours_std=s.std,
                    paper=ref.value if ref else math.nan,
                    paper_approx=bool(ref and ref.approx),
                    paper_status=ref.status if ref else "",
                    diff=diff,
                )
            )
        rows.append(row)
    notes = [
        dataset_note(dataset),
        SEEDS_NOTE,
        'Paper: table "effect of each component" (R-50-FPN, 1x schedule, COCO val2017). '
        "Δ = ours − paper in AP points; it carries the status marker of the paper's number it uses. "
        "AP60 ... AP90 are COCOeval's AP at that single IoU threshold.",
        R.STATUS_LEGEND,
    ]
    notes += _status_notes(used)
    notes += partial_seed_notes({ARM_LABELS[a]: rs for a, rs in by_arm.items()})
    return Table(
        "ablation",
        "Component ablation: ours vs. the paper (AP in %)",
        header,
        rows,
        notes,
        pd.DataFrame(data),
        dataset_preface(dataset),
    )


BREAKDOWN_SOURCES = (
    # (source_key, split, label)
    ("paper", "test-dev", "Paper (test-dev, as quoted by the reproduction report)"),
    ("repro_report", "val2017", "Reproduction report (MMDetection, 1 V100, val2017)"),
    ("mmdet_zoo", "val2017", "MMDetection model zoo, dynamic-rcnn_r50_fpn_1x (val2017)"),
)


def breakdown_table(runs, refs, dataset):
    """Table 2: Dynamic R-CNN's full COCO breakdown, ours against three references.

    Args:
        runs (list[Run]): all runs (``dynamic_rcnn``/``default`` is used).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    rs = default_runs(runs)["dynamic_rcnn"]
    header = ["Source", "n"] + list(BREAKDOWN_METRICS)
    split = "synthetic val" if dataset == "synthetic" else "val2017"
    row = [f"Ours, Dynamic R-CNN ({split})", str(len(rs))]
    data = []
    for m in BREAKDOWN_METRICS:
        s = summarize(percent(rs, m))
        row.append(fmt_summary(s))
        data.append(dict(source="ours", split=split, metric=m, n=s.n, value=s.mean, std=s.std, status="measured"))
    rows, used = [row], []
    for key, ref_split, label in BREAKDOWN_SOURCES:
        row = [label, "—"]
        for m in BREAKDOWN_METRICS:
            ref = R.find(refs, "breakdown", "dynamic_rcnn", m, source_key=key, split=ref_split)
            row.append(ref.format() if ref else "—")
            if ref:
                used.append((label, ref))
                data.append(
                    dict(
                        source=key,
                        split=ref_split,
                        metric=m,
                        n=math.nan,
                        value=ref.value,
                        std=math.nan,
                        status=ref.status,
                    )
                )
        rows.append(row)
    zoo_faster = R.find(refs, "breakdown", "faster_rcnn_mmdet", "AP", source_key="mmdet_zoo")
    notes = [
        dataset_note(dataset),
        SEEDS_NOTE.replace("the `default` variant", "Dynamic R-CNN (`default`)"),
        "test-dev and val2017 numbers are different splits and not directly comparable.",
        R.STATUS_LEGEND,
    ]
    notes += _status_notes(used)
    if zoo_faster:
        notes.append(
            f"For scale: MMDetection's faster-rcnn_r50_fpn_1x reaches {zoo_faster.format()} AP on val2017 "
            f"with L1 loss and RPN NMS 0.7, which is not the paper's baseline."
        )
    return Table(
        "breakdown",
        "Dynamic R-CNN R-50-FPN 1x: full breakdown (AP in %)",
        header,
        rows,
        notes,
        pd.DataFrame(data),
        dataset_preface(dataset),
    )


def _paper_gain(refs, arm, metric):
    """The paper's gain of ``arm`` over the baseline: the abstract's when given, else table arithmetic.

    Returns:
        tuple[float, str, bool] | None: value, status, approx.
    """
    if arm == "dynamic_rcnn":
        ref = R.find(refs, "abstract", arm, f"{metric}_gain")
        if ref is not None:
            return ref.value, ref.status, ref.approx
    a = R.find(refs, "ablation", arm, metric, source_key="paper")
    b = R.find(refs, "ablation", "baseline", metric, source_key="paper")
    if a is None or b is None:
        return None
    return a.value - b.value, R.combined_status(a.status, b.status), a.approx or b.approx


def gains_table(runs, refs, dataset):
    """Table 3: each arm's gain over the baseline per metric, with the seed spread.

    Args:
        runs (list[Run]): all runs (the ``default`` variant is used).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    by_arm = default_runs(runs)
    base = {m: summarize(percent(by_arm["baseline"], m)) for m in GAIN_METRICS}
    header = ["Arm", "Source", "n (arm / baseline)"] + list(GAIN_METRICS)
    rows, data = [], []
    for arm in ARMS[1:]:
        rs = by_arm[arm]
        row = [ARM_LABELS[arm], "ours", f"{len(rs)} / {len(by_arm['baseline'])}"]
        paper_row = [ARM_LABELS[arm], "paper", "—"]
        for m in GAIN_METRICS:
            g = gain(summarize(percent(rs, m)), base[m])
            row.append(fmt_gain(g))
            data.append(
                dict(
                    arm=arm,
                    source="ours",
                    metric=m,
                    gain=g.value if g else math.nan,
                    se=g.se if g else math.nan,
                    n_arm=len(rs),
                    n_baseline=len(by_arm["baseline"]),
                    significant=bool(g and g.significant),
                    status="measured",
                )
            )
            pg = _paper_gain(refs, arm, m)
            if pg is None:
                paper_row.append("—")
                continue
            value, status, approx = pg
            paper_row.append(f"{'~' if approx else ''}{fmt(value, signed=True)} {R.STATUS_MARKS[status]}")
            data.append(
                dict(
                    arm=arm,
                    source="paper",
                    metric=m,
                    gain=value,
                    se=math.nan,
                    n_arm=math.nan,
                    n_baseline=math.nan,
                    significant=False,
                    status=status,
                )
            )
        rows += [row, paper_row]
    noise = ["Baseline seed std (run-to-run noise)", "ours", str(len(by_arm["baseline"]))]
    noise += [fmt(base[m].std) for m in GAIN_METRICS]
    rows.append(noise)
    notes = [
        dataset_note(dataset),
        "Gain = mean over seeds of the arm − mean over seeds of the baseline (`default` variant), in AP points. "
        "± is the standard error of that difference, sqrt(s_a^2 / n_a + s_b^2 / n_b), with s the sample "
        "standard deviation (ddof = 1) over seeds; * marks |gain| > 2 × SE, a gain larger than the "
        "run-to-run noise (about 95 % two-sided for normal noise). With n = 1 on either side no spread "
        'can be estimated: the gain is shown with "(n=1)". The last row is the baseline\'s seed std, '
        "the noise of a single run.",
        "Paper gains: the abstract's +1.9 AP and +5.5 AP90 for Dynamic R-CNN (verified); the others are "
        "differences of the paper's ablation-table numbers and carry the weaker status of the two.",
        R.STATUS_LEGEND,
    ]
    notes += partial_seed_notes({ARM_LABELS[a]: rs for a, rs in by_arm.items()})
    return Table(
        "gains",
        "Gain of each arm over the baseline (AP points)",
        header,
        rows,
        notes,
        pd.DataFrame(data),
        dataset_preface(dataset),
    )


def sweeps_table(runs, refs, dataset):
    """Table 4: hyper-parameter sweeps (K_I, K_beta, C), when sweep runs exist.

    Args:
        runs (list[Run]): all runs; variants other than ``default`` are sweeps.
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table: a single "no sweep runs" row when there are none (the file set stays fixed).
    """
    groups = group_runs(r for r in runs if parse_control(r.variant) is None)  # controls: the controls table
    sweep_arms = [a for a in ARMS if any(arm == a and v != DEFAULT_VARIANT for arm, v in groups)]
    header = ["Arm", "Variant", "K_I", "K_β", "C", "n"] + list(SWEEP_METRICS) + ["Δ AP vs default"]
    rows, data = [], []
    for arm in sweep_arms:
        keys = sorted(
            (k for k in groups if k[0] == arm),
            key=lambda k: (k[1] != DEFAULT_VARIANT, tuple(groups[k][0].hyperparameters[h] for h in HYPERPARAMETERS)),
        )
        default_ap = summarize(percent(groups.get((arm, DEFAULT_VARIANT), []), "AP"))
        for key in keys:
            rs = groups[key]
            hp = rs[0].hyperparameters
            row = [ARM_LABELS[arm], key[1]] + [f"{hp[h]:g}" for h in HYPERPARAMETERS] + [str(len(rs))]
            record = dict(arm=arm, variant=key[1], **hp, n=len(rs), seeds=seeds_text(rs))
            for m in SWEEP_METRICS:
                s = summarize(percent(rs, m))
                row.append(fmt_summary(s))
                record[f"{m}_mean"], record[f"{m}_std"] = s.mean, s.std
            g = gain(summarize(percent(rs, "AP")), default_ap) if key[1] != DEFAULT_VARIANT else None
            row.append(fmt_gain(g) if key[1] != DEFAULT_VARIANT else "(default)")
            record["dAP_vs_default"], record["dAP_se"] = (g.value, g.se) if g else (math.nan, math.nan)
            rows.append(row)
            data.append(record)
    if not rows:
        rows = [["no sweep runs"] + ["—"] * (len(header) - 1)]
        data = [dict(arm="no sweep runs")]
    defaults = [R.find(refs, "hyperparameters", "dynamic_rcnn", h) for h in HYPERPARAMETERS]
    kb_sweep = [r for r in refs if r.metric == "beta_topk_sweep_value"]
    notes = [
        dataset_note(dataset),
        "Variants other than `default` vary K_I (iou_topk), K_β (beta_topk) and C (update_iter_interval); "
        "the values are the ones the runs recorded. AP in % (mean ± sample std over n seeds); Δ AP vs "
        "default: gain over the same arm's default variant ± its standard error (as in the gains table).",
        "Reference defaults (official code and MMDetection): "
        + ", ".join(f"{h} = {r.value:g} {r.mark}" for h, r in zip(HYPERPARAMETERS, defaults) if r)
        + ". "
        "The paper also sweeps K_β over values including "
        + ", ".join(f"{r.value:g}" for r in kb_sweep)
        + (f" {kb_sweep[0].mark}" if kb_sweep else "")
        + "; the results of the paper's sweeps are not known here.",
        R.STATUS_LEGEND,
    ]
    if data and data[0].get("arm") == "no sweep runs":
        notes.insert(0, "No sweep runs: no variant other than `default` was found among the runs.")
    return Table(
        "sweeps", "Hyper-parameter sweeps (AP in %)", header, rows, notes, pd.DataFrame(data), dataset_preface(dataset)
    )


CONTROL_METRICS = ABLATION_METRICS


def control_runs(runs):
    """dict[variant, list[Run]] of the control runs (baseline variants that fix a value), in control order."""
    groups = {v: rs for (arm, v), rs in group_runs(runs).items() if arm == CONTROL_ARM and parse_control(v)}
    return {v: groups[v] for v in sorted(groups, key=control_order)}


def _fixed_value(rs, key):
    """A control's fixed value over its seeds: one value, or mean (min–max) when the seeds differ (static)."""
    values = [r.control.get(key) for r in rs if r.control]
    if not values or any(v is None for v in values):
        return "—"
    if len(set(values)) == 1:
        return f"{values[0]:.3g}"
    return f"{sum(values) / len(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def controls_table(runs, refs, dataset):
    """Controls: the baseline with its IoU threshold, SmoothL1 beta or box loss fixed, against the baseline and the
    full Dynamic R-CNN (``default`` variants), with each one's gain over the baseline and its difference from
    Dynamic R-CNN, and the paper's statements about fixed settings with their status.

    Args:
        runs (list[Run]): all runs (the controls are ``baseline`` variants, :func:`dynrcnn.run_record.parse_control`).
        refs (list[Reference]): reference numbers (unused: the paper gives statements, no numbers; kept for the
            tables' common signature).
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table: a single "no control runs" row when there are none (the file set stays fixed).
    """
    by_arm = default_runs(runs)
    controls = control_runs(runs)
    base, full = by_arm[CONTROL_ARM], by_arm[STATIC_SOURCE_ARM]
    summary = {
        key: {m: summarize(percent(rs, m)) for m in CONTROL_METRICS}
        for key, rs in [(CONTROL_ARM, base), *controls.items(), (STATIC_SOURCE_ARM, full)]
    }
    header = ["Run", "Variant", "IoU thr.", "β", "Box loss", "n"] + list(CONTROL_METRICS)
    rows, data, parts = [], [], []
    if controls:
        rows.append([ARM_LABELS[CONTROL_ARM], DEFAULT_VARIANT, "config", "config", "config", str(len(base))])
        for variant, rs in controls.items():
            losses = sorted({r.control.get("loss", "?") for r in rs if r.control})
            rows.append(
                [control_label(variant), variant, _fixed_value(rs, "iou_thr"), _fixed_value(rs, "beta")]
                + [", ".join(losses) or "—", str(len(rs))]
            )
        rows.append(
            [ARM_LABELS[STATIC_SOURCE_ARM], DEFAULT_VARIANT, "dynamic", "dynamic", "SmoothL1Loss", str(len(full))]
        )
        for row, key in zip(rows, summary):
            row += [fmt_summary(summary[key][m]) for m in CONTROL_METRICS]
        gain_rows, diff_rows = [], []
        for key in [*controls, STATIC_SOURCE_ARM]:
            label = control_label(key) if key in controls else ARM_LABELS[key]
            rs = controls.get(key, full)
            g_base = [gain(summary[key][m], summary[CONTROL_ARM][m]) for m in CONTROL_METRICS]
            g_full = [gain(summary[key][m], summary[STATIC_SOURCE_ARM][m]) for m in CONTROL_METRICS]
            gain_rows.append([label, f"{len(rs)} / {len(base)}"] + [fmt_gain(g) for g in g_base])
            if key in controls:
                diff_rows.append([label, f"{len(rs)} / {len(full)}"] + [fmt_gain(g) for g in g_full])
            for m, gb, gf in zip(CONTROL_METRICS, g_base, g_full):
                s = summary[key][m]
                record = dict(
                    variant=key if key in controls else DEFAULT_VARIANT,
                    arm=CONTROL_ARM if key in controls else key,
                    kind=parse_control(key)["kind"] if key in controls else "",
                    iou_thr=_mean_fixed(rs, "iou_thr"),
                    beta=_mean_fixed(rs, "beta"),
                    n=s.n,
                    seeds=seeds_text(rs),
                    metric=m,
                    mean=s.mean,
                    std=s.std,
                    gain_vs_baseline=gb.value if gb else math.nan,
                    se_vs_baseline=gb.se if gb else math.nan,
                    n_baseline=len(base),
                    diff_vs_dynamic_rcnn=gf.value if gf and key in controls else math.nan,
                    se_vs_dynamic_rcnn=gf.se if gf and key in controls else math.nan,
                    n_dynamic_rcnn=len(full),
                )
                data.append(record)
        parts = [
            Part(
                "Gain over the baseline (AP points, ± SE)",
                ["Run", "n (run / baseline)"] + list(CONTROL_METRICS),
                gain_rows,
            ),
            Part(
                "Difference from Dynamic R-CNN (AP points, ± SE; negative: the control falls short)",
                ["Run", "n (control / Dynamic R-CNN)"] + list(CONTROL_METRICS),
                diff_rows,
            ),
        ]
    else:
        rows = [["no control runs"] + ["—"] * (len(header) - 1)]
        data = [dict(variant="no control runs")]
    notes = [dataset_note(dataset)]
    if not controls:
        notes.append(
            "No control runs: the config trains none (controls in the pipeline config: fixed betas, L1 loss, fixed "
            "IoU thresholds, the static endpoint; configs/pipeline/controls.yaml)."
        )
    notes += [
        "Controls are the baseline (DLA and DSL off) with the R-CNN head's IoU threshold (positive = negative = "
        "minimum-positive threshold, as Dynamic R-CNN sets them), SmoothL1 beta or box loss fixed for the whole "
        "training; the values are those each run recorded (run.control of its metrics.json). The static endpoint "
        "fixes threshold and beta at the values the Dynamic R-CNN run of the same seed ended with (several seeds: "
        "mean (min–max)). 'config': the baseline config's own values; 'dynamic': Dynamic R-CNN's, changing during "
        "training.",
        "AP in % (mean ± sample std over n seeds, COCOeval). Gains and differences: mean over seeds minus mean over "
        "seeds, in AP points, ± the standard error sqrt(s_a^2 / n_a + s_b^2 / n_b) as in the gains table; * marks "
        '|difference| > 2 × SE; "(n=1)": no spread can be estimated.',
        "If the static endpoint matches Dynamic R-CNN, its gain comes from where the threshold and beta end, not from "
        "the dynamics; if it falls short of Dynamic R-CNN, the schedule of the values matters (within the noise).",
    ]
    notes += [s.format() for s in R.STATEMENTS]
    notes.append(R.STATUS_LEGEND)
    notes += (
        partial_seed_notes(
            {
                ARM_LABELS[CONTROL_ARM]: base,
                **{control_label(v): rs for v, rs in controls.items()},
                ARM_LABELS[STATIC_SOURCE_ARM]: full,
            }
        )
        if controls
        else []
    )
    return Table(
        "controls",
        "Controls: the baseline with fixed values against the baseline and Dynamic R-CNN (AP in %)",
        header,
        rows,
        notes,
        pd.DataFrame(data),
        dataset_preface(dataset),
        parts=parts,
    )


def _mean_fixed(rs, key):
    values = [r.control.get(key) for r in rs if r.control and r.control.get(key) is not None]
    return sum(values) / len(values) if values else math.nan


def short_commit(commit):
    """A git commit shortened to 10 characters, keeping the ``-dirty`` mark of uncommitted changes."""
    commit = str(commit)
    dirty = commit.endswith("-dirty")
    return commit[:10] + ("-dirty" if dirty else "")


def _prov(runs, key, fmt_one=str):
    values = sorted({fmt_one(r.provenance[key]) for r in runs if r.provenance.get(key) is not None})
    return ", ".join(values) if values else "?"


def _cpu_text(runs):
    """The training CPUs of ``runs``: "model (torch instruction set)", several joined; "?" for older runs."""
    values = sorted(
        {
            f"{r.provenance['cpu_model']} ({r.provenance.get('cpu_capability') or '?'})"
            for r in runs
            if r.provenance.get("cpu_model")
        }
    )
    return ", ".join(values) if values else "?"


def runs_table(runs, dataset):
    """The runs read: per arm and variant their seeds, batch, learning rate, device, time, code and config
    versions; per run its metrics. The CSV has one row per run with all of it (the one per-run table).

    Args:
        runs (list[Run]): all runs.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    header = [
        "Arm",
        "Variant",
        "Seeds",
        "n",
        "GPUs × img/GPU",
        "lr",
        "Device",
        "CPU (torch ISA)",
        "Wall time / run (min)",
        "git commit",
        "config sha256",
    ]
    rows, data, per_run = [], [], []
    for (arm, variant), rs in group_runs(runs).items():
        batch = sorted(
            {f"{r.provenance.get('gpus', '?') or 'CPU'} × {r.provenance.get('images_per_gpu', '?')}" for r in rs}
        )
        walls = [
            r.provenance["wall_time_s"] / 60 for r in rs if isinstance(r.provenance.get("wall_time_s"), (int, float))
        ]
        wall = fmt(sum(walls) / len(walls)) if walls else "?"
        commit = _prov(rs, "git_commit", short_commit)
        sha = _prov(rs, "config_sha256", lambda c: str(c)[:12])
        rows.append(
            [
                ARM_LABELS[arm],
                variant,
                seeds_text(rs),
                str(len(rs)),
                ", ".join(batch),
                _prov(rs, "lr", lambda v: f"{v:g}" if isinstance(v, (int, float)) else str(v)),
                _prov(rs, "device"),
                _cpu_text(rs),
                wall,
                commit,
                sha,
            ]
        )
        for r in rs:
            per_run.append(
                [ARM_LABELS[arm], variant, str(r.seed)] + [fmt_summary(summarize(percent([r], m))) for m in RUN_METRICS]
            )
            data.append(
                dict(
                    arm=arm,
                    variant=variant,
                    seed=r.seed,
                    family=r.family,
                    dataset=r.dataset,
                    **r.hyperparameters,
                    **{m: percent([r], m)[0] for m in RUN_CSV_METRICS},
                    gpus=r.provenance.get("gpus"),
                    images_per_gpu=r.provenance.get("images_per_gpu"),
                    lr=r.provenance.get("lr"),
                    device=r.provenance.get("device"),
                    cpu_model=r.provenance.get("cpu_model"),
                    cpu_capability=r.provenance.get("cpu_capability"),
                    wall_time_s=r.provenance.get("wall_time_s"),
                    git_commit=r.provenance.get("git_commit"),
                    config_sha256=r.provenance.get("config_sha256"),
                    path=str(r.path),
                )
            )
    notes = [
        dataset_note(dataset),
        "One row per arm and variant; several values in a cell mean the seeds differ in that respect.",
        "CPU: the training machine's CPU model and the instruction set torch's CPU kernels used "
        "(torch.backends.cpu.get_cpu_capability()); a CPU run gives other numbers for the same seed on another "
        "CPU type, so numbers compare across machines only as samples of the seed-to-seed spread.",
        "Per-run metrics: COCOeval box AP in percent (pycocotools on the val split, maxDets 100), one row per "
        'run; AP60 ... AP90 are AP at that single IoU threshold; "undef.": COCOeval gives -1 (no ground '
        "truth in that range). The CSV has one row per run: its hyper-parameters, AP, AP50, AP75, APS, APM, "
        "APL and AP55 ... AP95 in percent (empty where undefined), and its provenance.",
    ]
    mixed = [
        f"{ARM_LABELS[a]}/{v}"
        for (a, v), rs in group_runs(runs).items()
        if len({r.provenance.get("git_commit") for r in rs}) > 1
    ]
    if mixed:
        notes.append("Runs of " + ", ".join(mixed) + " come from different git commits.")
    if any(str(r.provenance.get("git_commit")).endswith("-dirty") for r in runs):
        notes.append("A commit marked -dirty had uncommitted changes to tracked files when the run was trained.")
    notes += partial_seed_notes(
        {f"{ARM_LABELS[a]}/{v}": rs for (a, v), rs in group_runs(runs).items() if v == DEFAULT_VARIANT}
    )
    parts = [Part("Per-run metrics (AP in %)", ["Arm", "Variant", "Seed"] + list(RUN_METRICS), per_run)]
    return Table("runs", "Runs included in this report", header, rows, notes, pd.DataFrame(data), parts=parts)


def _ref_value(r):
    text = (
        f"{int(r.value)}"
        if r.value.is_integer() and r.unit in ("iterations", "images", "proposals")
        else f"{r.value!r}"
    )
    return ("~" if r.approx else "") + text


def references_table(refs, dataset):
    """Every reference number with its source and status (the CSV shipped with ``analysis``).

    Args:
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    header = ["Table", "Source", "Split", "Model / arm", "Metric", "Value", "Unit", "Status", "Note"]
    rows = [
        [
            r.table,
            r.source,
            r.split or "—",
            r.model_or_arm,
            r.metric,
            _ref_value(r),
            r.unit,
            f"{r.status} {r.mark}",
            r.note or "—",
        ]
        for r in refs
    ]
    data = pd.DataFrame([{c: getattr(r, c) for c in R.COLUMNS} for r in refs])
    notes = [
        R.STATUS_LEGEND,
        "Copied from shared/reference/dynamic_rcnn_facts.md, section 1; a test checks this file against it.",
    ]
    return Table(
        "reference_numbers", "Reference numbers and their status", header, rows, notes, data, dataset_preface(dataset)
    )


#: The tables that set our numbers beside the paper's: each states which family and rule produced ours.
COMPARISON_TABLES = ("ablation", "breakdown", "gains", "sweeps", "controls", "reference_numbers")


def build_tables(runs, refs, dataset, family):
    """Every report table, in report order.

    Args:
        runs (list[Run]): all runs.
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.
        family (str): the config family of the runs (a key of :data:`dynrcnn.families.FAMILIES`).

    Returns:
        list[Table]
    """
    tables = [
        ablation_table(runs, refs, dataset),
        breakdown_table(runs, refs, dataset),
        gains_table(runs, refs, dataset),
        sweeps_table(runs, refs, dataset),
        controls_table(runs, refs, dataset),
        runs_table(runs, dataset),
        references_table(refs, dataset),
    ]
    basis = comparison_preface(family)
    for table in tables:
        if table.name in COMPARISON_TABLES:
            table.basis = basis
    return tables
