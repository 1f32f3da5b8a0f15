"""The report is built in results/report/{family}/ and published to reports/{family}/ only once complete: a report
job that fails (here on a bad metrics.json) costs Snakemake's deletion of its own outputs, never the last good report
the user reads. Run for real on a fake finished run (no training)."""

import os
import time

from analysis.outputs import OUTPUTS
from dynrcnn.data.synthetic import generate

SMALL = dict(num_train=2, num_val=1, image_size=64, seed=0)
RUN = "results/runs/synthetic/baseline/default/seed0"


def _touch(path, when, text="{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix or path.name.endswith(".ready"):
        path.write_text(text)
    else:
        path.mkdir(exist_ok=True)
    os.utime(path, (when, when))


def test_failed_report_leaves_the_published_report(tmp_path, smk, file_state):
    config = smk.write_config(
        tmp_path / "c.yaml",
        base="tiny.yaml",
        arms=["baseline"],
        report={"enabled": True},
        dataset=dict(name="synthetic", root="results/data/tiny", synthetic=SMALL),
    )
    generate(tmp_path / "results" / "data" / "tiny", **SMALL)
    now = time.time()
    # a finished run whose evaluation is newer than the last report (so the report is redone) and is broken
    _touch(tmp_path / "results/data/tiny.ready", now, (tmp_path / "results/data/tiny/.complete").read_text())
    for i, rel in enumerate(("train_manifest.json", "scalars.json")):
        _touch(tmp_path / RUN / rel, now + 1 + i)
    # the last report: built, then published
    rels = list(OUTPUTS)
    for rel in rels:
        _touch(tmp_path / "results/report/synthetic" / rel, now + 10, "built")
        _touch(tmp_path / "reports/synthetic" / rel, now + 11, "the last good report")
    for rel in ("metrics.json", "detections/final.bbox.json", "epoch_detections"):
        _touch(tmp_path / RUN / rel, now + 20)  # metrics.json '{}': not a metrics record
    published = file_state(tmp_path / "reports")

    proc = smk.run(tmp_path, "--cores", "1", configfiles=[config])
    assert proc.returncode != 0
    assert "Error in rule report" in proc.stdout, proc.stdout[-3000:]
    log = (tmp_path / "results/logs/report/synthetic.log").read_text()
    assert f"{RUN}/metrics.json: incomplete metrics record" in log, log[-3000:]
    for rule in ("train", "evaluate", "epoch_detections", "publish_report"):
        assert f"rule {rule}:" not in proc.stdout, proc.stdout[-3000:]
    assert file_state(tmp_path / "reports") == published  # the last good report, untouched
    # what Snakemake deleted are the report job's own outputs
    assert not [p for p in (tmp_path / "results/report/synthetic").rglob("*") if p.is_file()]
