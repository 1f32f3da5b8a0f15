"""Dry runs of the control configs through the real `snakemake` command: the COCO controls config on a fake COCO
tree, the static endpoint's place in the DAG (after the full run, before its own training). (A bad controls config
is one error line: tests/pipeline/test_controls.py; how the workflow stops on one: tests/workflow/test_dryrun.py.)"""

import re


def _job(output, rule, marker):
    """The dry run's block of the ``rule`` job whose text holds ``marker``."""
    jobs = [block for block in output.split(f"rule {rule}:")[1:] if marker in block.split("Shell command:")[0]]
    assert len(jobs) == 1, (rule, marker, len(jobs))
    return jobs[0]


def test_coco_controls_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "coco_1x_controls.yaml", override], check=True)
    counts = smk.job_counts(proc.stdout)
    # 4 arms x 3 seeds + 6 controls (beta0.5, beta2.0, l1, iou0.6, iou0.7, static) x 3 seeds
    assert counts["train"] == 30 and counts["evaluate"] == 30 and counts["static_endpoint"] == 3
    variants = set(re.findall(r"results/runs/coco_r50_fpn_1x/baseline/([^/\s]+)/seed\d+/metrics\.json", proc.stdout))
    assert variants == {"default", "beta0.5", "beta2.0", "l1", "iou0.6", "iou0.7", "static"}
    # the static endpoint of seed 2: read from the full run of seed 2, an input of the control's training
    runs = "results/runs/coco_r50_fpn_1x"
    endpoint = f"{runs}/baseline/static/seed2/endpoint.json"
    job = _job(proc.stdout, "static_endpoint", f"output: {endpoint}")
    assert f"input: {runs}/dynamic_rcnn/default/seed2/scalars.json" in job
    train = _job(proc.stdout, "train", f"{runs}/baseline/static/seed2/train_manifest.json")
    assert endpoint in train.split("output:")[0]
    assert re.search(rf"--cfg-options-file {re.escape(endpoint)}\s+> results/logs/train/", train)
    # the fixed values of the other controls reach their trainings as cfg options
    l1 = _job(proc.stdout, "train", f"{runs}/baseline/l1/seed0/train_manifest.json")
    assert "model.roi_head.bbox_head.loss_bbox.type=L1Loss" in l1 and "--cfg-options-file" not in l1
    iou = _job(proc.stdout, "train", f"{runs}/baseline/iou0.7/seed1/train_manifest.json")
    assert "model.train_cfg.rcnn.assigner.pos_iou_thr=0.7" in iou
    assert "model.train_cfg.rcnn.assigner.min_pos_iou=0.7" in iou
