"""The expected-results gate: each arm's seed mean of box AP against an expected value and a tolerance (standard
library only; the practice of MMDetection's ``.dev_scripts`` benchmark check and Detectron2's ``verify_results``).

Expected values:

* COCO families: the paper's ablation numbers in ``analysis/data/reference_numbers.csv`` (table ``ablation``, source
  ``paper``, metric ``AP``), only those verified or derived: baseline 37.0 [d] and Dynamic R-CNN 38.9 [v]. DLA and DSL
  (~38.0 [u], approximate and unverified) are shown and not gated. Tolerance: MMDetection's regression tolerance,
  0.5 AP (``default_floating_range`` of its ``.dev_scripts/benchmark_options.py``, reported).
* The synthetic family: the project's own committed expectations, ``analysis/data/expected_synthetic.csv`` (seed
  means of a committed report's ``runs.csv``; regenerate it with ``python -m analysis.verify expect``). Tolerance:
  the file's ``tolerance`` column (2.0 AP by default: the same seed moved single-run AP by up to ~1.6 points between
  two CPU models, facts file section 1.6, so a seed mean moves at most that much from the machine alone).

The tolerance used is the larger of that value and the half-width of the measured seed mean's interval (Student t,
95 % two-sided, n - 1 degrees of freedom, each arm on its own, no correction across arms; none with one seed). With
3 seeds that interval is wide (t = 4.30): the gate catches a pipeline that is off by points, not by tenths.

PASS when ``|mean - expected| <= tolerance``; FAIL otherwise or when an arm has no run; SKIP for an arm without a
gated expectation. :func:`verify_rows` returns the rows, :func:`verify_markdown` renders them; the CLI
(``python -m analysis.verify check ...``) exits 1 on any FAIL.
"""

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from analysis.references import STATUS_MARKS, find, load_references
from dynrcnn.run_record import ARMS, DEFAULT_VARIANT, read_metrics

REPO = Path(__file__).resolve().parents[1]
#: MMDetection's regression tolerance of box AP (reported: ``.dev_scripts/benchmark_options.py``).
COCO_TOLERANCE = 0.5
#: The default tolerance of the synthetic family's expectations (see the module docstring).
SYNTHETIC_TOLERANCE = 2.0
#: Reference statuses that gate (an unverified number is shown, not gated).
GATED_STATUSES = ("verified", "derived")
EXPECTED_COLUMNS = ("family", "arm", "variant", "metric", "expected", "tolerance", "n_seeds", "status", "source")
#: Two-sided 95 % Student t quantiles by degrees of freedom (beyond 30: 1.96).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
T95.update({11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093})
T95.update({20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048})
T95.update({29: 2.045, 30: 2.042})


class VerifyError(ValueError):
    """An expectations file or an input is malformed; the message names it and the fix."""


@dataclass(frozen=True)
class Expectation:
    """An expected seed mean of box AP (percent) for one arm."""

    arm: str
    expected: float
    tolerance: float
    status: str  # a reference status (verified/derived/unverified) or "measured" (the project's own runs)
    source: str
    gated: bool = True


def expected_path(family):
    """The committed expectations of a non-COCO family."""
    return resources.files("analysis") / "data" / f"expected_{family}.csv"


def ci_half_width(values):
    """Half-width of the 95 % two-sided Student t interval of the mean (NaN with fewer than 2 values)."""
    n = len(values)
    if n < 2:
        return math.nan
    return T95.get(n - 1, 1.96) * statistics.stdev(values) / math.sqrt(n)


def coco_expectations(refs=None):
    """The paper's ablation AP per arm from the reference numbers (gated only when verified or derived)."""
    refs = load_references() if refs is None else refs
    found = {}
    for arm in ARMS:
        ref = find(refs, "ablation", arm, "AP", source_key="paper")
        if ref is not None:
            found[arm] = Expectation(
                arm,
                ref.value,
                COCO_TOLERANCE,
                ref.status,
                f"{ref.source} {STATUS_MARKS[ref.status]}",
                gated=ref.status in GATED_STATUSES and not ref.approx,
            )
    return found


def read_expectations(path, family):
    """The expectations of ``family`` in a CSV with :data:`EXPECTED_COLUMNS` (default variant, metric AP)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != EXPECTED_COLUMNS:
                raise VerifyError(f"{path}: columns {reader.fieldnames}, expected {list(EXPECTED_COLUMNS)}")
            rows = list(reader)
    except FileNotFoundError:
        raise VerifyError(
            f"{path}: missing; write it from a report's runs.csv: python -m analysis.verify expect --runs-csv "
            f"reports/{family}/tables/runs.csv --out {path}"
        ) from None
    found = {}
    for line, row in enumerate(rows, start=2):
        if row["family"] != family or row["variant"] != DEFAULT_VARIANT or row["metric"] != "AP":
            continue
        try:
            expected, tolerance = float(row["expected"]), float(row["tolerance"])
        except ValueError:
            raise VerifyError(f"{path}:{line}: expected and tolerance must be numbers") from None
        source = f"{row['source']} ({row['status']}, {row['n_seeds']} seeds)"
        found[row["arm"]] = Expectation(row["arm"], expected, tolerance, row["status"], source)
    if not found:
        raise VerifyError(f"{path}: no row of family {family!r} (variant default, metric AP); regenerate it")
    return found


def expectations(family, dataset, path=None):
    """The expectations of a family: the paper's for COCO, else the committed file (or ``path``)."""
    if dataset == "coco" and path is None:
        return coco_expectations()
    return read_expectations(path or expected_path(family), family)


def verify_rows(ap_by_arm, expected):
    """PASS/FAIL/SKIP per arm.

    Args:
        ap_by_arm (dict): ``{arm: [AP percent per seed]}`` of the default variant.
        expected (dict): ``{arm: Expectation}``.

    Returns:
        list[dict]: per arm (in :data:`ARMS` order, those in either input): ``arm, n, mean, expected, status,
        tolerance, tolerance_from, diff, verdict, reason``.
    """
    rows = []
    for arm in [a for a in ARMS if a in ap_by_arm or a in expected]:
        values, exp = ap_by_arm.get(arm, []), expected.get(arm)
        mean = statistics.fmean(values) if values else math.nan
        row = dict(arm=arm, n=len(values), mean=mean, expected=math.nan, status="", tolerance=math.nan)
        row.update(tolerance_from="", diff=math.nan, source="")
        if exp is None or not exp.gated:
            reason = "no expected value" if exp is None else f"expected value not gated ({exp.status}, approximate)"
            if exp is not None:
                row.update(expected=exp.expected, status=exp.status, source=exp.source)
            rows.append(dict(row, verdict="SKIP", reason=reason))
            continue
        half = ci_half_width(values)
        tolerance, origin = (half, "seed CI (t, 95 %)") if half > exp.tolerance else (exp.tolerance, "fixed")
        row.update(expected=exp.expected, status=exp.status, tolerance=tolerance, tolerance_from=origin)
        row["source"] = exp.source
        if not values:
            rows.append(dict(row, verdict="FAIL", reason="no run of this arm"))
            continue
        diff = mean - exp.expected
        row["diff"] = diff
        ok = abs(diff) <= tolerance
        where = "within" if ok else "outside"
        reason = f"mean {mean:.2f} is {abs(diff):.2f} AP {where} +-{tolerance:.2f} of {exp.expected:.2f}"
        rows.append(dict(row, verdict="PASS" if ok else "FAIL", reason=reason))
    return rows


def passed(rows):
    return all(r["verdict"] != "FAIL" for r in rows)


def _f(x, digits=2):
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.{digits}f}".replace("-0.00", "0.00")


def verify_markdown(rows, family) -> str:
    """The verdict table as markdown, with the rule stated under it."""
    lines = [
        f"Expected results of `{family}`: {'PASS' if passed(rows) else 'FAIL'}",
        "",
        "| arm | seeds | mean AP | expected AP | tolerance | difference | verdict | reason |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        mark = STATUS_MARKS.get(r["status"], f"[{r['status']}]" if r["status"] else "")
        tol = f"+-{_f(r['tolerance'])} ({r['tolerance_from']})" if r["tolerance_from"] else "n/a"
        lines.append(
            f"| {r['arm']} | {r['n']} | {_f(r['mean'])} | {_f(r['expected'], 1)} {mark} | {tol} | "
            f"{_f(r['diff'])} | {r['verdict']} | {r['reason']} |"
        )
    lines += [
        "",
        "Seed mean of box AP (percent, default variant) against the expected value; tolerance: the fixed one "
        "(COCO: MMDetection's 0.5 AP regression tolerance, reported; synthetic: the committed file's, covering the "
        "~1.6 AP a single run moved between two CPU models) or, when wider, the half-width of the seed mean's "
        "Student t interval (95 % two-sided, n - 1 df, per arm, no correction across arms). With 3 seeds this "
        "catches a pipeline off by points, not by tenths. Sources: "
        + "; ".join(dict.fromkeys(r["source"] for r in rows if r["source"])),
    ]
    return "\n".join(lines) + "\n"


def ap_from_metrics(metrics_files, family=None):
    """``{arm: [AP percent]}`` of the default-variant runs among ``metrics_files``, and their dataset."""
    found, datasets = defaultdict(list), set()
    for path in metrics_files:
        record = read_metrics(path)
        run = record["run"]
        if family and run["family"] != family:
            raise VerifyError(f"{path}: run of family {run['family']!r}, not {family!r}; pass that family's runs")
        datasets.add(run["dataset"])
        if run["variant"] == DEFAULT_VARIANT:
            found[run["arm"]].append(100 * record["metrics"]["AP"])
    return dict(found), (datasets.pop() if len(datasets) == 1 else None)


def ap_from_runs_csv(path, family=None):
    """``{arm: [AP percent]}`` of the default-variant rows of a report's ``runs.csv``, and their dataset."""
    found, datasets = defaultdict(list), set()
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if (family and row["family"] != family) or row["variant"] != DEFAULT_VARIANT:
                continue
            datasets.add(row["dataset"])
            found[row["arm"]].append(float(row["AP"]))
    if not found:
        raise VerifyError(f"{path}: no default-variant run{f' of family {family!r}' if family else ''}")
    return dict(found), (datasets.pop() if len(datasets) == 1 else None)


def expectation_rows(runs_csv, family, tolerance=SYNTHETIC_TOLERANCE):
    """Rows of an expectations file from a report's ``runs.csv``: each arm's seed mean (status ``measured``)."""
    ap, _ = ap_from_runs_csv(runs_csv, family)
    with open(runs_csv, newline="", encoding="utf-8") as f:
        first = next(r for r in csv.DictReader(f) if r["family"] == family)
    shown = Path(runs_csv).resolve()
    shown = shown.relative_to(REPO) if shown.is_relative_to(REPO) else runs_csv
    where = f"{shown} (commit {first['git_commit'][:8]}, {first['cpu_model']}, {first['cpu_capability']})"
    return [
        dict(
            family=family,
            arm=arm,
            variant=DEFAULT_VARIANT,
            metric="AP",
            expected=f"{statistics.fmean(values):.4f}",
            tolerance=f"{tolerance:.2f}",
            n_seeds=len(values),
            status="measured",
            source=where,
        )
        for arm, values in ((a, ap[a]) for a in ARMS if a in ap)
    ]


def write_expectations(rows, out):
    out = Path(out)
    if out.exists():
        out.unlink()  # a regenerated file replaces the old one whole
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=EXPECTED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.verify", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="each arm's seed mean against its expected value; exit 1 on a FAIL")
    check.add_argument("--family", required=True)
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--metrics", nargs="+", help="the runs' metrics.json files")
    source.add_argument("--runs-csv", help="a report's tables/runs.csv instead")
    check.add_argument("--expected", help="expectations CSV (default: COCO: the paper; else the committed file)")
    check.add_argument("--out", help="write the verdict table here (markdown) when every arm passes")
    expect = sub.add_parser("expect", help="write a family's expectations from a report's runs.csv")
    expect.add_argument("--runs-csv", required=True, help="e.g. reports/synthetic/tables/runs.csv")
    expect.add_argument("--family", default="synthetic")
    expect.add_argument("--tolerance", type=float, default=SYNTHETIC_TOLERANCE, help="AP points")
    expect.add_argument("--out", default=None, help="default: analysis/data/expected_{family}.csv")
    args = parser.parse_args(argv)
    prog = "python -m analysis.verify"
    try:
        if args.command == "expect":
            out = args.out or str(expected_path(args.family))
            write_expectations(expectation_rows(args.runs_csv, args.family, args.tolerance), out)
            print(f"[analysis.verify] {out}")
            return 0
        if args.metrics:
            ap, dataset = ap_from_metrics(args.metrics, args.family)
        else:
            ap, dataset = ap_from_runs_csv(args.runs_csv, args.family)
        rows = verify_rows(ap, expectations(args.family, dataset, args.expected))
    except (VerifyError, ValueError, OSError) as e:
        sys.exit(f"{prog}: error: {e}")
    text = verify_markdown(rows, args.family)
    print(text, end="")
    if not passed(rows):
        failed = ", ".join(f"{r['arm']} ({r['reason']})" for r in rows if r["verdict"] == "FAIL")
        print(f"{prog}: FAIL: {failed}", file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
