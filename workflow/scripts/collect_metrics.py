"""Collect every run's metrics.json into one CSV and one Markdown table (Snakemake script of collect_metrics)."""
import csv
import json
import sys
import traceback

SUMMARY = ("AP", "AP50", "AP75", "APS", "APM", "APL")
PER_IOU = tuple(f"{0.5 + 0.05 * i:.2f}" for i in range(10))
RUN_KEYS = ("family", "arm", "variant", "seed", "dataset")
HPARAMS = ("iou_topk", "beta_topk", "update_iter_interval")


class MetricsFileError(Exception):
    """A metrics.json that cannot be collected (the message names the file and the fix)."""


def read_row(path):
    """One table row from a run's metrics.json; MetricsFileError if the file is corrupt or incomplete."""
    fix = (f"Delete {path} so that the pipeline re-evaluates that run (snakemake re-runs its evaluate job and "
           "then this one)")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as e:  # ValueError: JSONDecodeError, UnicodeDecodeError
        raise MetricsFileError(f"{path}: not a readable JSON file ({type(e).__name__}: {e}). {fix}") from None
    try:
        return row(record)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as e:
        what = f"missing key {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        raise MetricsFileError(f"{path}: incomplete metrics record ({what}). {fix}") from None


def row(record):
    run, metrics, prov = record["run"], record["metrics"], record["provenance"]
    out = {k: run[k] for k in RUN_KEYS}
    out.update({k: run["hyperparameters"].get(k) for k in HPARAMS})
    out.update({k: metrics[k] for k in SUMMARY})
    out.update({f"AP{round(float(t) * 100)}": metrics["AP_at_iou"][t] for t in PER_IOU})
    out.update(git_commit=prov["git_commit"], device=prov["device"], wall_time_s=prov["wall_time_s"])
    return out


def percent(value):
    # COCOeval fractions shown as AP points; -1 (undefined) stays visible as such.
    return "n/a (-1)" if value == -1 else f"{100 * value:.1f}"


def main(metrics_files, csv_path, md_path):
    rows = []
    for path in metrics_files:
        rows.append(read_row(path))
    rows.sort(key=lambda r: (r["arm"], r["variant"], r["seed"]))
    fields = list(rows[0]) if rows else list(RUN_KEYS)
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    shown = ("AP", "AP50", "AP75", "AP60", "AP70", "AP80", "AP90", "APS", "APM", "APL")
    lines = ["| arm | variant | seed | " + " | ".join(shown) + " |",
             "|---|---|---|" + "---|" * len(shown)]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['variant']} | {r['seed']} | " +
                     " | ".join(percent(r[k]) for k in shown) + " |")
    lines.append("")
    lines.append("COCO box AP (pycocotools COCOeval on the val split, maxDets 100) in points; measured by this "
                 "pipeline, one row per run.")
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")


def run_logged(metrics_files, csv_path, md_path, log_path):
    """main() with its warnings in the log; a failure is written to the log and to the real stderr (the console),
    and gives exit status 1."""
    stderr = sys.stderr
    with open(log_path, "w") as log:
        sys.stderr = log
        try:
            main(metrics_files, csv_path, md_path)
            return 0
        except MetricsFileError as e:
            message = f"collect_metrics: {e}\n"
        except Exception:  # anything else: the traceback, where it can be read
            message = f"collect_metrics failed:\n{traceback.format_exc()}"
        finally:
            sys.stderr = stderr
        log.write(message)
    stderr.write(message)
    stderr.flush()
    return 1


if __name__ == "__main__" and "snakemake" in globals():
    sys.exit(run_logged(snakemake.input.metrics, snakemake.output.csv, snakemake.output.md, snakemake.log[0]))
