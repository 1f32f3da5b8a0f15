"""Report tables (Markdown, LaTeX with booktabs, CSV) built from runs and reference numbers.

Every table is a :class:`Table`: display cells (numbers in percent, one decimal; reference numbers
with their status marker), notes printed under it, and a machine-readable frame for the CSV.
"""

import math
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

from . import compute as compute_mod
from . import references
from .frame import metric_key  # noqa: F401  (re-exported: the figures' import)
from .outputs import (
    ABLATION_PAPER_NOTE,
    ABLATION_SYNTHETIC_NOTE,
    COCO_NOTE,
    CONTROLS_NONE_NOTE,
    CONTROLS_NOTE,
    CONTROLS_READING_NOTE,
    CONTROLS_STATS_NOTE,
    GAINS_NOTE,
    PAPER_GAINS_NOTE,
    RUNS_NOTES,
    SEEDS_NOTE,
    STATIC_RANK_NOTE,
    SWEEPS_NONE_NOTE,
    SWEEPS_NOTE,
    SYNTHETIC_NOTE,
)
from .provenance_flags import FIELDS as FLAG_FIELDS
from .results import BASELINE, FULL, compute
from .stats import fmt, fmt_summary, summarize
from .style import ARM_LABELS, ARMS, control_label, control_order
from .summary import DEVIATIONS_LINK, floor_text, model_text

ABLATION_METRICS = ("AP", "AP50", "AP60", "AP70", "AP80", "AP90")
BREAKDOWN_METRICS = SUMMARY_METRICS
GAIN_METRICS = ("AP", "AP50", "AP60", "AP70", "AP75", "AP80", "AP90", "APS", "APM", "APL")
SWEEP_METRICS = ("AP", "AP50", "AP75", "AP90")
#: Per-run metrics of the runs table: Markdown / LaTeX, and CSV (COCOeval's summary, then AP at each other IoU).
RUN_METRICS = SUMMARY_METRICS + ("AP60", "AP70", "AP80", "AP90")
RUN_CSV_METRICS = SUMMARY_METRICS + tuple(f"AP{t}" for t in range(55, 100, 5) if t != 75)

CSV_FLOAT_FORMAT = "%.4f"


@dataclass
class Part:
    """A further tabular printed under a table's main one (same notes, same CSV).

    Args:
        title (str): its heading.
        header (list[str]): column names.
        rows (list[list[str]]): display cells.
        keys (int): leading columns repeated when the LaTeX tabular is split (:func:`_latex_tabular`).
    """

    title: str
    header: list
    rows: list
    keys: int = 1


def _md_tabular(header, rows):
    esc = lambda s: str(s).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]


#: Most columns of one LaTeX tabular: a wider table is split into several, each repeating its key columns.
LATEX_MAX_COLUMNS = 11


def _latex_one(header, rows):
    """Lines of one booktabs tabular; a wide one (more than 8 columns) in a smaller font with narrower column gaps."""
    wide = len(header) > 8
    lines = [r"{\scriptsize\setlength{\tabcolsep}{3pt}"] if wide else []
    lines += [
        rf"\begin{{tabular}}{{{'l' + 'r' * (len(header) - 1)}}}",
        r"\toprule",
        " & ".join(latex_escape(h) for h in header) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return lines + (["}"] if wide else [])


def _latex_tabular(header, rows, keys=1, group=1):
    """Lines of booktabs tabulars, never scaled down: a table of more than :data:`LATEX_MAX_COLUMNS` columns is split
    into stacked tabulars that each repeat the first ``keys`` columns and keep groups of ``group`` columns together
    (e.g. ours / paper / Δ of one metric)."""
    if len(header) <= LATEX_MAX_COLUMNS:
        return _latex_one(header, rows)
    data = len(header) - keys
    parts = math.ceil(data / (LATEX_MAX_COLUMNS - keys))
    size = math.ceil(math.ceil(data / parts) / group) * group
    lines = []
    for start in range(keys, len(header), size):
        cols = list(range(keys)) + list(range(start, min(start + size, len(header))))
        lines += ([r"\par\smallskip"] if lines else []) + _latex_one(
            [header[c] for c in cols], [[row[c] for c in cols] for row in rows]
        )
    return lines


def _md_note(note):
    """A Markdown bullet; a note that starts with '+' (an arm label) is escaped so it is not a nested bullet."""
    return f"- \\{note}" if note.startswith("+") else f"- {note}"


def fmt_diff(c, digits=1):
    """A comparison's cell: '+2.4 [+0.4, +4.5] p_H 0.070' (paired mean, 95 % CI, Holm-adjusted p); Welch rows end
    in ' (Welch)'; '+2.4 (n = 1)' without an interval; '—' without data."""
    if c is None or c.diff.n == 0:
        return "—"
    d = c.diff
    mean = fmt(d.mean, digits, signed=True)
    if not d.has_interval:
        return f"{mean} (n = {d.n})"
    text = f"{mean} [{fmt(d.lo, digits, signed=True)}, {fmt(d.hi, digits, signed=True)}] p_H {c.p_adj:.3f}"
    return text + (" (Welch)" if d.test != "paired t" else "")


def comparison_record(c):
    """CSV fields of a comparison: mean, CI, raw and Holm-adjusted p, test, seeds, family."""
    if c is None:
        return dict(diff=math.nan, ci_lo=math.nan, ci_hi=math.nan, p=math.nan, p_holm=math.nan, test="", n=0)
    d = c.diff
    return dict(
        diff=d.mean,
        ci_lo=d.lo,
        ci_hi=d.hi,
        ci_level=d.level,
        p=d.p,
        p_holm=c.p_adj,
        holm_family=c.family,
        holm_m=c.family_size,
        test=d.test,
        n=d.n,
        seeds_agree=d.seeds_agree,
    )


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
        latex_keys (int): leading columns repeated when the LaTeX table is split (it has more than
            :data:`LATEX_MAX_COLUMNS` columns).
        latex_group (int): columns kept together when it is split.
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
    latex_keys: int = 1
    latex_group: int = 1

    def to_markdown(self):
        """str: the table as GitHub-flavoured Markdown with its notes."""
        lines = [f"## {self.title}", ""]
        lines += [f"**{p}**\n" for p in self.preface]
        if self.basis:
            lines += [f"{self.basis[0]} [Deviations from the paper]({DEVIATIONS_LINK}).", ""]
        lines += _md_tabular(self.header, self.rows)
        for part in self.parts:
            lines += ["", f"### {part.title}", ""] + _md_tabular(part.header, part.rows)
        if self.notes:
            lines += ["", "Notes:", ""]
            lines += [_md_note(n) for n in self.notes]
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
            lines += [
                r"{\footnotesize " + latex_escape(self.basis[0]) + r" Deviations from the paper: SUMMARY.md.\par}"
            ]
        lines += _latex_tabular(self.header, self.rows, self.latex_keys, self.latex_group)
        for part in self.parts:
            lines += [r"\par\medskip", rf"\textbf{{{latex_escape(part.title)}}}\par\smallskip"]
            lines += _latex_tabular(part.header, part.rows, part.keys)
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
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "≤": r"$\leq$",
    "√": r"$\surd$",
    "→": r"$\rightarrow$",
    "–": "--",
    "`": "",
}


def latex_escape(text):
    """Escape LaTeX specials and map the few Unicode symbols the tables use."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


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
    """'0,1,2': the seeds of runs (or of seed numbers)."""
    return ",".join(str(getattr(r, "seed", r)) for r in runs)


def partial_seed_notes(groups):
    """Notes for arms that have fewer seeds than the union of seeds of all arms.

    Args:
        groups (dict[str, list]): label -> runs (or their seed numbers).

    Returns:
        list[str]
    """
    groups = {label: [getattr(r, "seed", r) for r in rs] for label, rs in groups.items()}
    all_seeds = sorted({s for rs in groups.values() for s in rs})
    notes = []
    for label, rs in groups.items():
        have = sorted(rs)
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
        f"{who}, {', '.join(metrics)} {references.STATUS_MARKS[status]} ({status}): {note}."
        for (who, status, note), metrics in grouped.items()
    ]


def _summary_cells(res, group, metrics):
    return [fmt_summary(res.summary(group, m)) for m in metrics]


def floor_notes(res, metrics):
    """One note per metric at its floor (the baseline's mean below :data:`analysis.summary.FLOOR` AP points)."""
    return [
        f"{m} is at its floor here ({floor_text(res, m)}): no gain at {m} can be tested on these runs, so the "
        f"paper's {m} numbers cannot be checked here."
        for m in metrics
        if floor_text(res, m)
    ]


def _ablation_cells(res, refs, arm, metric, coco):
    """Cells and CSV record of one arm at one metric; the difference to the paper only on COCO."""
    s = res.summary((arm, DEFAULT_VARIANT), metric)
    ref = references.find(refs, "ablation", arm, metric, source_key="paper")
    diff = s.mean - ref.value if ref is not None and coco else math.nan
    cells = [fmt_summary(s), ref.format() if ref else "—"]
    if coco:
        approx = "~" if ref is not None and ref.approx else ""
        cells.append(f"{approx}{fmt(diff, signed=True)} {ref.mark}" if ref and not math.isnan(diff) else "—")
    record = dict(
        arm=arm,
        n=s.n,
        seeds=seeds_text(res.seeds((arm, DEFAULT_VARIANT))),
        metric=metric,
        ours_mean=s.mean,
        ours_std=s.std,
        paper=ref.value if ref else math.nan,
        paper_approx=bool(ref and ref.approx),
        paper_status=ref.status if ref else "",
        diff=diff,
    )
    return cells, record, ref


def ablation_table(res, refs, dataset):
    """Table 1: the paper's component ablation, ours against the paper per arm (differences only on COCO).

    Args:
        res (Results): the report's results (:func:`analysis.results.compute`).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    coco = dataset == "coco"
    header = ["Arm", "n"]
    for m in ABLATION_METRICS:
        header += [f"{m} ours", f"{m} paper"] + ([f"{m} Δ"] if coco else [])
    rows, data, used = [], [], []
    for arm in ARMS:
        row = [ARM_LABELS[arm], str(len(res.seeds((arm, DEFAULT_VARIANT))))]
        for m in ABLATION_METRICS:
            cells, record, ref = _ablation_cells(res, refs, arm, m, coco)
            row += cells
            data.append(record)
            used += [(ARM_LABELS[arm], ref)] if ref is not None else []
        rows.append(row)
    notes = [dataset_note(dataset), SEEDS_NOTE, ABLATION_PAPER_NOTE if coco else ABLATION_SYNTHETIC_NOTE]
    notes += floor_notes(res, ABLATION_METRICS) + [references.STATUS_LEGEND] + _status_notes(used)
    notes += partial_seed_notes({ARM_LABELS[a]: res.seeds((a, DEFAULT_VARIANT)) for a in ARMS})
    title = "Component ablation: ours vs. the paper (AP in %)" if coco else "Component ablation (AP in %)"
    table = Table("ablation", title, header, rows, notes, pd.DataFrame(data), dataset_preface(dataset))
    table.latex_keys, table.latex_group = 2, 3 if coco else 2
    return table


BREAKDOWN_SOURCES = (
    # (source_key, split, label)
    ("paper", "test-dev", "Paper (test-dev, as quoted by the reproduction report)"),
    ("repro_report", "val2017", "Reproduction report (MMDetection, 1 V100, val2017)"),
    ("mmdet_zoo", "val2017", "MMDetection model zoo, dynamic-rcnn_r50_fpn_1x (val2017)"),
)


def _breakdown_reference_rows(refs):
    rows, data, used = [], [], []
    for key, ref_split, label in BREAKDOWN_SOURCES:
        row = [label, "—"]
        for m in BREAKDOWN_METRICS:
            ref = references.find(refs, "breakdown", "dynamic_rcnn", m, source_key=key, split=ref_split)
            row.append(ref.format() if ref else "—")
            if ref:
                used.append((label, ref))
                data.append(dict(source=key, split=ref_split, metric=m, n=math.nan, value=ref.value, std=math.nan))
                data[-1]["status"] = ref.status
        rows.append(row)
    return rows, data, used


def breakdown_table(res, refs, dataset, family):
    """Table 2: Dynamic R-CNN's full COCO breakdown, ours against three references (R-50-FPN 1x, COCO).

    Args:
        res (Results): the report's results.
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.
        family (str): the config family (its model names our row and the title).

    Returns:
        Table
    """
    n = len(res.seeds(FULL))
    header = ["Source", "n"] + list(BREAKDOWN_METRICS)
    split = "synthetic val" if dataset == "synthetic" else "val2017"
    rows = [
        [f"Ours, Dynamic R-CNN, {model_text(family)} ({split})", str(n)] + _summary_cells(res, FULL, BREAKDOWN_METRICS)
    ]
    data = []
    for m in BREAKDOWN_METRICS:
        s = res.summary(FULL, m)
        data.append(dict(source="ours", split=split, metric=m, n=s.n, value=s.mean, std=s.std, status="measured"))
    ref_rows, ref_data, used = _breakdown_reference_rows(refs)
    zoo_faster = references.find(refs, "breakdown", "faster_rcnn_mmdet", "AP", source_key="mmdet_zoo")
    notes = [
        dataset_note(dataset),
        SEEDS_NOTE.replace("the `default` variant", "Dynamic R-CNN (`default`)"),
        "The reference rows are ResNet-50-FPN, 1x schedule, on COCO; test-dev and val2017 numbers are different "
        "splits and not directly comparable.",
        references.STATUS_LEGEND,
    ] + _status_notes(used)
    if zoo_faster:
        notes.append(
            f"For scale: MMDetection's faster-rcnn_r50_fpn_1x reaches {zoo_faster.format()} AP on val2017 "
            f"with L1 loss and RPN NMS 0.7, which is not the paper's baseline."
        )
    title = f"Dynamic R-CNN full breakdown: ours ({model_text(family)}) and the R-50-FPN 1x references (AP in %)"
    frame = pd.DataFrame(data + ref_data)
    return Table("breakdown", title, header, rows + ref_rows, notes, frame, dataset_preface(dataset))


def _paper_gain_cell(refs, arm, metric):
    pg = references.paper_gain(refs, arm, metric)
    if pg is None:
        return "—", None
    value, status, approx = pg
    record = dict(arm=arm, source="paper", metric=metric, diff=value, status=status)
    return f"{'~' if approx else ''}{fmt(value, signed=True)} {references.STATUS_MARKS[status]}", record


def gains_table(res, refs, dataset):
    """Table 3: each arm's gain over the baseline per metric: paired mean, 95 % CI, Holm-adjusted p.

    Args:
        res (Results): the report's results (family ``gains/{metric}``: the three arms at one metric).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table
    """
    header = ["Arm", "Source", "n (arm / baseline)"] + list(GAIN_METRICS)
    rows, data = [], []
    n_base = len(res.seeds(BASELINE))
    for arm in ARMS[1:]:
        group = (arm, DEFAULT_VARIANT)
        row = [ARM_LABELS[arm], "ours", f"{len(res.seeds(group))} / {n_base}"]
        paper_row = [ARM_LABELS[arm], "paper", "—"]
        for m in GAIN_METRICS:
            c = res.comparison("gains", group, BASELINE, m)
            row.append(fmt_diff(c))
            data.append(dict(arm=arm, source="ours", metric=m, **comparison_record(c), status="measured"))
            cell, record = _paper_gain_cell(refs, arm, m)
            paper_row.append(cell)
            data += [record] if record else []
        rows += [row, paper_row]
    noise = ["Baseline seed std (run-to-run noise)", "ours", str(n_base)]
    rows.append(noise + [fmt(res.summary(BASELINE, m).std) for m in GAIN_METRICS])
    notes = [dataset_note(dataset), GAINS_NOTE, PAPER_GAINS_NOTE] + floor_notes(res, GAIN_METRICS)
    notes += [references.STATUS_LEGEND]
    notes += partial_seed_notes({ARM_LABELS[a]: res.seeds((a, DEFAULT_VARIANT)) for a in ARMS})
    title = "Gain of each arm over the baseline (AP points; paired mean [95 % CI] and Holm-adjusted p)"
    table = Table("gains", title, header, rows, notes, pd.DataFrame(data), dataset_preface(dataset))
    table.latex_keys = 3
    return table


def _sweep_row(res, arm, variant):
    group = (arm, variant)
    hp = res.info[(res.info.arm == arm) & (res.info.variant == variant)].iloc[0]
    seeds = res.seeds(group)
    row = [ARM_LABELS[arm], variant] + [f"{hp[h]:g}" for h in HYPERPARAMETERS] + [str(len(seeds))]
    record = dict(arm=arm, variant=variant, **{h: hp[h] for h in HYPERPARAMETERS}, n=len(seeds))
    record["seeds"] = seeds_text(seeds)
    for m in SWEEP_METRICS:
        s = res.summary(group, m)
        row.append(fmt_summary(s))
        record[f"{m}_mean"], record[f"{m}_std"] = s.mean, s.std
    c = res.comparison(f"sweeps/{arm}", group, (arm, DEFAULT_VARIANT), "AP") if variant != DEFAULT_VARIANT else None
    row.append(fmt_diff(c) if variant != DEFAULT_VARIANT else "(default)")
    record.update({f"dAP_vs_default_{k}": v for k, v in comparison_record(c).items()})
    return row, record


def sweeps_table(res, refs, dataset):
    """Table 4: hyper-parameter sweeps (K_I, K_beta, C), when sweep runs exist.

    Args:
        res (Results): the report's results (family ``sweeps/{arm}/AP``).
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table: a single "no sweep runs" row when there are none (the file set stays fixed).
    """
    header = ["Arm", "Variant", "K_I", "K_β", "C", "n"] + list(SWEEP_METRICS) + ["Δ AP vs default"]
    rows, data = [], []
    for arm in ARMS:
        variants = res.sweeps(arm)
        for variant in ([DEFAULT_VARIANT] if variants else []) + variants:
            row, record = _sweep_row(res, arm, variant)
            rows.append(row)
            data.append(record)
    if not rows:
        rows = [["no sweep runs"] + ["—"] * (len(header) - 1)]
        data = [dict(arm="no sweep runs")]
    notes = ([SWEEPS_NONE_NOTE] if data[0].get("arm") == "no sweep runs" else []) + [dataset_note(dataset)]
    notes += [SWEEPS_NOTE, _sweep_reference_note(refs), references.STATUS_LEGEND]
    return Table(
        "sweeps", "Hyper-parameter sweeps (AP in %)", header, rows, notes, pd.DataFrame(data), dataset_preface(dataset)
    )


def _sweep_reference_note(refs):
    defaults = [references.find(refs, "hyperparameters", "dynamic_rcnn", h) for h in HYPERPARAMETERS]
    kb_sweep = [r for r in refs if r.metric == "beta_topk_sweep_value"]
    return (
        "Reference defaults (official code and MMDetection): "
        + ", ".join(f"{h} = {r.value:g} {r.mark}" for h, r in zip(HYPERPARAMETERS, defaults) if r)
        + ". The paper also sweeps K_β over values including "
        + ", ".join(f"{r.value:g}" for r in kb_sweep)
        + (f" {kb_sweep[0].mark}" if kb_sweep else "")
        + "; the results of the paper's sweeps are not known here."
    )


CONTROL_METRICS = ABLATION_METRICS


def control_runs(runs):
    """dict[variant, list[Run]] of the control runs (baseline variants that fix a value), in control order."""
    groups = {v: rs for (arm, v), rs in group_runs(runs).items() if arm == CONTROL_ARM and parse_control(v)}
    return {v: groups[v] for v in sorted(groups, key=control_order)}


def _fixed_value(values):
    """A control's fixed value over its seeds: one value, or mean (min–max) when the seeds differ (static)."""
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "—"
    if len(set(values)) == 1:
        return f"{values[0]:.3g}"
    return f"{sum(values) / len(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def _control_info(res, variant):
    info = res.info[(res.info.arm == CONTROL_ARM) & (res.info.variant == variant)]
    losses = sorted({str(v) for v in info.control_loss if v})
    return info, [
        _fixed_value(list(info.control_iou_thr)),
        _fixed_value(list(info.control_beta)),
        ", ".join(losses) or "—",
    ]


def _controls_main_rows(res):
    rows = [[ARM_LABELS[CONTROL_ARM], DEFAULT_VARIANT, "config", "config", "config", str(len(res.seeds(BASELINE)))]]
    rows[0] += _summary_cells(res, BASELINE, CONTROL_METRICS)
    for variant in res.controls():
        group = (CONTROL_ARM, variant)
        rows.append([control_label(variant), variant, *_control_info(res, variant)[1], str(len(res.seeds(group)))])
        rows[-1] += _summary_cells(res, group, CONTROL_METRICS)
    full = [
        ARM_LABELS[STATIC_SOURCE_ARM],
        DEFAULT_VARIANT,
        "dynamic",
        "dynamic",
        "SmoothL1Loss",
        str(len(res.seeds(FULL))),
    ]
    return rows + [full + _summary_cells(res, FULL, CONTROL_METRICS)]


def _controls_parts(res):
    """The two comparison tabulars (against the baseline, against Dynamic R-CNN) and the CSV records."""
    gain_rows, diff_rows, data = [], [], []
    for variant in res.controls():
        group = (CONTROL_ARM, variant)
        n = len(res.seeds(group))
        vs_base = [res.comparison("controls_vs_baseline", group, BASELINE, m) for m in CONTROL_METRICS]
        vs_full = [res.comparison("controls_vs_dynamic_rcnn", group, FULL, m) for m in CONTROL_METRICS]
        gain_rows.append([control_label(variant), f"{n} / {len(res.seeds(BASELINE))}"] + [fmt_diff(c) for c in vs_base])
        diff_rows.append([control_label(variant), f"{n} / {len(res.seeds(FULL))}"] + [fmt_diff(c) for c in vs_full])
        info = _control_info(res, variant)[0]
        for m, cb, cf in zip(CONTROL_METRICS, vs_base, vs_full):
            s = res.summary(group, m)
            record = dict(variant=variant, arm=CONTROL_ARM, kind=parse_control(variant)["kind"], metric=m)
            record.update(iou_thr=info.control_iou_thr.mean(), beta=info.control_beta.mean(), n=s.n, mean=s.mean)
            record.update(std=s.std, seeds=seeds_text(res.seeds(group)))
            record.update({f"{k}_vs_baseline": v for k, v in comparison_record(cb).items()})
            record.update({f"{k}_vs_dynamic_rcnn": v for k, v in comparison_record(cf).items()})
            data.append(record)
    cols = list(CONTROL_METRICS)
    parts = [
        Part(
            "Difference from the baseline (AP points; paired mean [95 % CI], Holm-adjusted p)",
            ["Run", "n (control / baseline)"] + cols,
            gain_rows,
        ),
        Part(
            "Difference from Dynamic R-CNN (AP points; paired mean [95 % CI], Holm-adjusted p; negative: the control "
            "falls short)",
            ["Run", "n (control / Dynamic R-CNN)"] + cols,
            diff_rows,
        ),
    ]
    return parts, data


def controls_table(res, refs, dataset):
    """Controls: the baseline with its IoU threshold, SmoothL1 beta or box loss fixed, against the baseline and the
    full Dynamic R-CNN (``default`` variants), with paired differences, and the first author's statements about
    fixed settings with their status.

    Args:
        res (Results): the report's results (families ``controls_vs_baseline/{metric}`` and
            ``controls_vs_dynamic_rcnn/{metric}``).
        refs (list[Reference]): reference numbers (unused; kept for the tables' common signature).
        dataset (str): ``synthetic`` or ``coco``.

    Returns:
        Table: a single "no control runs" row when there are none (the file set stays fixed).
    """
    header = ["Run", "Variant", "IoU thr.", "β", "Box loss", "n"] + list(CONTROL_METRICS)
    controls = res.controls()
    if controls:
        rows = _controls_main_rows(res)
        parts, data = _controls_parts(res)
    else:
        rows, parts = [["no control runs"] + ["—"] * (len(header) - 1)], []
        data = [dict(variant="no control runs")]
    notes = [dataset_note(dataset)] + ([] if controls else [CONTROLS_NONE_NOTE])
    notes += [CONTROLS_NOTE, CONTROLS_STATS_NOTE, CONTROLS_READING_NOTE, STATIC_RANK_NOTE]
    notes += floor_notes(res, CONTROL_METRICS) if controls else []
    notes += [s.format() for s in references.STATEMENTS] + [references.STATUS_LEGEND]
    if controls:
        groups = [BASELINE] + [(CONTROL_ARM, v) for v in controls] + [FULL]
        labels = [ARM_LABELS[CONTROL_ARM]] + [control_label(v) for v in controls] + [ARM_LABELS[STATIC_SOURCE_ARM]]
        notes += partial_seed_notes({label: res.seeds(g) for label, g in zip(labels, groups)})
    title = "Controls: the baseline with fixed values against the baseline and Dynamic R-CNN (AP in %)"
    table = Table("controls", title, header, rows, notes, pd.DataFrame(data), dataset_preface(dataset), parts=parts)
    table.latex_keys = 6
    return table


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


def _in_seed_order(rs, key, fmt_one=str):
    """Each run's provenance ``key`` in seed order ('a (seed 0), b (seed 1)'), one value when all agree."""
    values = [fmt_one(r.provenance[key]) if r.provenance.get(key) is not None else "?" for r in rs]
    if len(set(values)) == 1:
        return values[0]
    return ", ".join(f"{v} (seed {r.seed})" for v, r in zip(values, rs))


def _runs_group_row(arm, variant, rs):
    """The runs table's row of one arm and variant (its runs in seed order)."""
    batch = sorted(
        {f"{r.provenance.get('gpus', '?') or 'CPU'} × {r.provenance.get('images_per_gpu', '?')}" for r in rs}
    )
    walls = [r.provenance["wall_time_s"] / 60 for r in rs if isinstance(r.provenance.get("wall_time_s"), (int, float))]
    return [
        ARM_LABELS[arm],
        variant,
        seeds_text(rs),
        str(len(rs)),
        ", ".join(batch),
        _prov(rs, "lr", lambda v: f"{v:g}" if isinstance(v, (int, float)) else str(v)),
        _prov(rs, "device"),
        _cpu_text(rs),
        fmt(sum(walls) / len(walls)) if walls else "?",
        _in_seed_order(rs, "git_commit", short_commit),
        _in_seed_order(rs, "config_sha256", lambda c: str(c)[:12]),
    ]


#: The mark of a run whose provenance differs from the rest (:func:`analysis.provenance_flags.flag_runs`).
FLAG_MARK = "†"
FLAG_NOTE = (
    f"{FLAG_MARK}: a run whose git commit, resolved config (within its arm and variant), package versions or device "
    "differs from the rest; the mixed-provenance notice above says what differs and which comparisons it enters "
    "(the CSV's provenance_differs column names the fields)."
)


def _run_record(r, flag=None):
    """The runs CSV's row of one run: hyper-parameters, every metric in percent, provenance, and which provenance
    fields differ from the rest (``provenance_differs``, empty when none)."""
    record = dict(arm=r.arm, variant=r.variant, seed=r.seed, family=r.family, dataset=r.dataset, **r.hyperparameters)
    record.update({m: percent([r], m)[0] for m in RUN_CSV_METRICS})
    keys = ("gpus", "images_per_gpu", "lr", "device", "cpu_model", "cpu_capability", "wall_time_s", "git_commit")
    record.update({k: r.provenance.get(k) for k in keys + ("config_sha256",)})
    differs = "; ".join(FLAG_FIELDS[k] for k in flag.fields) if flag is not None else ""
    return record | dict(provenance_differs=differs, path=str(r.path))


RUNS_HEADER = [
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


def runs_table(runs, dataset, notices=(), flagged=None):
    """The runs read: per arm and variant their seeds, batch, learning rate, device, time, code and config
    versions (in seed order where the seeds differ); per run its metrics. The CSV has one row per run with all of
    it (the one per-run table).

    Args:
        runs (list[Run]): all runs.
        dataset (str): ``synthetic`` or ``coco``.
        notices (Sequence[str]): extra notes printed first (e.g. mixed-provenance warnings; SUMMARY.md shows them too).
        flagged (dict, optional): ``{run name: Flag}`` of the runs whose provenance differs (marked with
            :data:`FLAG_MARK` in the rows).

    Returns:
        Table
    """
    flagged = flagged or {}
    groups = group_runs(runs)
    rows = [_runs_group_row(arm, variant, rs) for (arm, variant), rs in groups.items()]
    for row, rs in zip(rows, groups.values()):
        marked = [str(r.seed) for r in rs if r.name in flagged]
        row[2] += f" ({FLAG_MARK} seed {', '.join(marked)})" if marked else ""
    per_run = [
        [ARM_LABELS[r.arm], r.variant, str(r.seed) + (f" {FLAG_MARK}" if r.name in flagged else "")]
        + [fmt_summary(summarize(percent([r], m))) for m in RUN_METRICS]
        for rs in groups.values()
        for r in rs
    ]
    data = [_run_record(r, flagged.get(r.name)) for rs in groups.values() for r in rs]
    notes = [*notices, *([FLAG_NOTE] if flagged else []), dataset_note(dataset), *RUNS_NOTES]
    mixed = [
        f"{ARM_LABELS[a]}/{v}" for (a, v), rs in groups.items() if len({r.provenance.get("git_commit") for r in rs}) > 1
    ]
    if mixed:
        notes.append("Runs of " + ", ".join(mixed) + " come from different git commits.")
    if any(str(r.provenance.get("git_commit")).endswith("-dirty") for r in runs):
        notes.append("A commit marked -dirty had uncommitted changes to tracked files when the run was trained.")
    notes += partial_seed_notes({f"{ARM_LABELS[a]}/{v}": rs for (a, v), rs in groups.items() if v == DEFAULT_VARIANT})
    parts = [Part("Per-run metrics (AP in %)", ["Arm", "Variant", "Seed"] + list(RUN_METRICS), per_run, keys=3)]
    return Table("runs", "Runs included in this report", RUNS_HEADER, rows, notes, pd.DataFrame(data), parts=parts)


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
    data = pd.DataFrame([{c: getattr(r, c) for c in references.COLUMNS} for r in refs])
    notes = [
        references.STATUS_LEGEND,
        "Copied from shared/reference/dynamic_rcnn_facts.md, section 1; a test checks this file against it.",
    ]
    return Table(
        "reference_numbers", "Reference numbers and their status", header, rows, notes, data, dataset_preface(dataset)
    )


#: The tables that set our numbers beside the paper's: each states which family and rule produced ours.
COMPARISON_TABLES = ("ablation", "breakdown", "gains", "sweeps", "controls", "reference_numbers")


NO_BENCHMARKS = "no benchmark files given"
COMPUTE_HEADER = ["Arm", "Jobs", "Wall h", "CPU-hours", "GPU-hours", "Peak RSS (MB)", "Peak GPU memory (MB)", "Device"]


def compute_table(benchmarks=None):
    """What the runs cost, from Snakemake's benchmark files (:mod:`analysis.compute`): per arm and in total.

    Args:
        benchmarks (tuple, optional): ``(benchmarks, run infos)`` of :func:`analysis.compute.load`; none or no
            benchmark: a single row saying no benchmark files were given (the file set stays fixed).

    Returns:
        Table
    """
    bench, infos = benchmarks or ([], {})
    notes = [compute_mod.NOTE]
    if not bench:
        rows = [[NO_BENCHMARKS] + ["—"] * (len(COMPUTE_HEADER) - 1)]
        data = pd.DataFrame([dict(arm=NO_BENCHMARKS)])
        notes.insert(0, "Run the report through the workflow (or give --benchmarks) for the compute table.")
        return Table("compute", "Compute per arm", COMPUTE_HEADER, rows, notes, data)
    records = compute_mod.compute_rows(bench, infos)
    cell = compute_mod.fmt
    rows = [
        [r["arm"], str(r["jobs"]), cell(r["wall_h"], 3), cell(r["cpu_h"], 3), cell(r["gpu_h"], 3)]
        + [cell(r["peak_rss_mb"], 0), cell(r["peak_gpu_mem_mb"], 0), r["device"] or "n/a"]
        for r in records
    ]
    # the CSV also in seconds (its 4 decimals would round hours)
    data = pd.DataFrame([r | {f"{k}_s": r[f"{k}_h"] * 3600 for k in ("wall", "cpu", "gpu")} for r in records])
    return Table("compute", "Compute per arm", COMPUTE_HEADER, rows, notes, data)


def build_tables(runs, refs, dataset, family, res=None, notices=(), flagged=None, benchmarks=None):
    """Every report table, in report order.

    Args:
        runs (list[Run]): all runs.
        refs (list[Reference]): reference numbers.
        dataset (str): ``synthetic`` or ``coco``.
        family (str): the config family of the runs (a key of :data:`dynrcnn.families.FAMILIES`).
        res (Results, optional): :func:`analysis.results.compute` of ``runs`` (computed when not given).
        notices (Sequence[str]): notes printed first under the runs table (e.g. mixed-provenance warnings).
        flagged (dict, optional): ``{run name: Flag}`` of the runs whose provenance differs (marked in the runs
            table).
        benchmarks (tuple, optional): ``(benchmarks, run infos)`` of :func:`analysis.compute.load` (the compute
            table).

    Returns:
        list[Table]
    """
    res = compute(runs) if res is None else res
    tables = [
        ablation_table(res, refs, dataset),
        breakdown_table(res, refs, dataset, family),
        gains_table(res, refs, dataset),
        sweeps_table(res, refs, dataset),
        controls_table(res, refs, dataset),
        runs_table(runs, dataset, notices, flagged),
        compute_table(benchmarks),
        references_table(refs, dataset),
    ]
    basis = comparison_preface(family)
    for table in tables:
        if table.name in COMPARISON_TABLES:
            table.basis = basis
    return tables
