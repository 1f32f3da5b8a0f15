"""Dry run of the paper-recipe family's pipeline config (configs/pipeline/coco_1x_paper.yaml) on a fake COCO tree."""

import re

FAMILY = "coco_r50_fpn_1x_paper"


def test_paper_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "coco_1x_paper.yaml", override], check=True)
    counts = smk.job_counts(proc.stdout)
    assert "synthetic_data" not in counts
    assert counts["train"] == 12 and counts["evaluate"] == 12  # 4 arms x 3 seeds
    for arm in ("baseline", "dla", "dsl", "dynamic_rcnn"):
        for seed in (0, 1, 2):
            assert f"results/runs/{FAMILY}/{arm}/default/seed{seed}/metrics.json" in proc.stdout
    assert f"configs/{FAMILY}/dynamic_rcnn.py" in proc.stdout
    assert re.search(r"resources:.*gpu=8", proc.stdout)
    assert "--nproc-per-node=8" in proc.stdout
    assert "--dataset coco" in proc.stdout and f"--data-root {fake_coco}" in proc.stdout
    assert "train_cfg.max_epochs" not in proc.stdout  # iteration-based: no epoch count is passed
    assert "epoch_detections" not in counts  # no epoch checkpoints to detect with
