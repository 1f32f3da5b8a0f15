"""Collect every run's metrics.json into one CSV and one Markdown table (Snakemake script of collect_metrics)."""
import csv
import json
import sys

SUMMARY = ("AP", "AP50", "AP75", "APS", "APM", "APL")
PER_IOU = tuple(f"{0.5 + 0.05 * i:.2f}" for i in range(10))
RUN_KEYS = ("family", "arm", "variant", "seed", "dataset")
HPARAMS = ("iou_topk", "beta_topk", "update_iter_interval")


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
        with open(path) as f:
            rows.append(row(json.load(f)))
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


if __name__ == "__main__" and "snakemake" in globals():
    with open(snakemake.log[0], "w") as log:
        sys.stderr = log
        main(snakemake.input.metrics, snakemake.output.csv, snakemake.output.md)
