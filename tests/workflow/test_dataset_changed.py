"""A synthetic annotation file edited after the dataset was generated and checked (a box given a negative width) is
checked again when the DAG is built (its SHA-256 differs from the one in the .ready marker): one line naming the file
and the fix, before any job. The same dataset unedited plans its trainings."""

import json

from dynrcnn.data import check_dataset
from dynrcnn.data.synthetic import generate

SMALL = dict(num_train=2, num_val=1, image_size=64, seed=0)


def test_an_annotation_edited_after_the_check_fails_before_any_training(tmp_path, smk, file_state):
    root = tmp_path / "results" / "data" / "tiny"
    generate(root, **SMALL)
    marker = tmp_path / "results" / "data" / "tiny.ready"  # what the synthetic_data rule writes
    assert check_dataset.main(["--root", str(root), "--dataset", "synthetic", "--out", str(marker)]) == 0
    config = smk.write_config(
        tmp_path / "c.yaml", base="tiny.yaml", dataset=dict(name="synthetic", root=str(root), synthetic=SMALL)
    )
    out = smk.run(tmp_path, "-n", configfiles=[config], check=True).stdout
    assert smk.job_counts(out)["train"] == 2 and "fails the check" not in out

    ann = root / "annotations" / "instances_train.json"
    data = json.loads(ann.read_text())
    data["annotations"][0]["bbox"][2] = -5.0
    ann.write_text(json.dumps(data))
    kept = file_state(tmp_path / "results")
    proc = smk.run(tmp_path, "--cores", "1", configfiles=[config])
    assert proc.returncode != 0
    lines = [line for line in proc.stdout.splitlines() if "fails the check" in line]
    assert len(lines) == 1, proc.stdout[-3000:]
    assert f"{ann} (changed since the dataset was checked" in lines[0]
    assert f"annotation id {data['annotations'][0]['id']} " in lines[0] and "negative width" in lines[0]
    assert lines[0].endswith("Delete the dataset folder and its .ready marker next to it to generate it again")
    assert "rule " not in proc.stdout and "jobid" not in proc.stdout  # before any job
    assert file_state(tmp_path / "results") == kept
