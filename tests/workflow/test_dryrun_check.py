"""Dry runs of the acceptance check configs: every arm trains once with the short schedule through the train rule,
then the check job gates them; the COCO check on a fake COCO tree shows the GPUs, the iterations and the trajectory
gate it would use."""

import yaml


def test_synthetic_check_dry_run(tmp_path, smk):
    proc = smk.run(tmp_path, "-n", "-p", "--cores", "1", configfiles=[smk.configs / "check.yaml"], check=True)
    counts = smk.job_counts(proc.stdout)
    assert {k: v for k, v in counts.items() if k != "all"} == {"synthetic_data": 1, "train": 4, "check": 1}
    assert proc.stdout.count("--cfg-options train_cfg.type=ShortEpochTrainLoop train_cfg.max_iters=300") == 4
    assert "--out reports/synthetic_check" in proc.stdout and "--update-interval 10" in proc.stdout


def test_coco_check_dry_run_on_a_fake_coco_tree(tmp_path, smk, fake_coco):
    root = tmp_path / "my_coco.yaml"
    root.write_text(yaml.safe_dump({"dataset": {"name": "coco", "root": str(fake_coco)}}))
    work = tmp_path / "work"
    work.mkdir()
    configs = [smk.configs / "coco_check.yaml", root]
    proc = smk.run(work, "-n", "-p", "--cores", "1", configfiles=configs, check=True)
    counts = smk.job_counts(proc.stdout)
    assert {k: v for k, v in counts.items() if k != "all"} == {"check_dataset": 1, "train": 4, "check": 1}
    assert proc.stdout.count("train_cfg.max_iters=500") == 4 and "evaluate" not in counts
    assert proc.stdout.count("--gpus 8 --") == 4  # each training claims the full job's 8 GPUs
    assert "train_dataloader.batch_size=2" in proc.stdout
    gate = [line for line in proc.stdout.splitlines() if "-m analysis.check" in line]
    assert len(gate) == 1 and "--dataset coco" in gate[0] and "--tolerance 0.03" in gate[0]
    assert "--update-interval 100" in gate[0] and "--out reports/coco_r50_fpn_1x_check" in gate[0]
