"""The synthetic_data rule: its output is a marker next to the dataset (Snakemake deletes a job's outputs before a
rerun, never the dataset), a rerun with the same parameters reuses the dataset, and other parameters are refused while
the DAG is built, before any job, with nothing deleted (each unusable dataset.root: tests/pipeline/test_plan.py)."""

import json
import re

from dynrcnn.data.check_dataset import annotation_hashes
from dynrcnn.data.synthetic import COMPLETE_MARKER

SMALL = dict(num_train=3, num_val=1, image_size=64, seed=0)


def _config(smk, path, root, **synthetic):
    return smk.write_config(
        path, base="tiny.yaml", dataset=dict(name="synthetic", root=str(root), synthetic={**SMALL, **synthetic})
    )


def test_rerun_reuses_the_dataset_and_other_parameters_are_refused(tmp_path, smk, file_state):
    root = tmp_path / "results" / "data" / "tiny"
    marker = "results/data/tiny.ready"
    config = _config(smk, tmp_path / "c.yaml", "results/data/tiny")
    log = tmp_path / "results" / "logs" / "data" / "synthetic.log"

    smk.run(tmp_path, "--cores", "1", marker, configfiles=[config], check=True)
    assert (root / COMPLETE_MARKER).is_file() and (tmp_path / marker).is_file()
    generated = file_state(root)
    assert len([name for name in generated if name.endswith(".png")]) == 4

    # the rule forced to rerun, then its marker deleted: Snakemake deletes the marker, never the dataset, and the
    # generator reuses the dataset (same parameters) instead of refusing or rewriting it
    for args in (("-R", "synthetic_data"), ()):
        if not args:
            (tmp_path / marker).unlink()
        proc = smk.run(tmp_path, "--cores", "1", marker, *args, configfiles=[config], check=True)
        assert "rule synthetic_data" in proc.stdout
        assert "synthetic dataset ready" in log.read_text()
        assert file_state(root) == generated
        # the marker: the dataset check's record, with the generator's parameters and the annotation files' SHA-256
        record = json.loads((tmp_path / marker).read_text())
        assert record["generator"] == json.loads((root / COMPLETE_MARKER).read_text())
        assert record["annotations_sha256"] == annotation_hashes(root, "synthetic")
        assert None not in record["annotations_sha256"].values()

    # a generator parameter changed after the generation: refused while the DAG is built, the dataset intact
    changed = _config(smk, tmp_path / "changed.yaml", "results/data/tiny", num_train=4)
    kept = file_state(tmp_path / "results")
    proc = smk.run(tmp_path, "--cores", "1", configfiles=[changed])
    assert proc.returncode != 0
    assert re.search(r"dataset.synthetic.num_train: 3 in the dataset, 4 wanted", proc.stdout), proc.stdout[-3000:]
    assert "rule " not in proc.stdout and "jobid" not in proc.stdout
    assert file_state(tmp_path / "results") == kept
