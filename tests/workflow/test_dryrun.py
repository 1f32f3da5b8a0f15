"""Dry runs of the pipeline configs through the real `snakemake` command, the linter, and how a bad config stops it.

The checks themselves (schema, fields, dataset roots, sweeps) are unit tests of dynrcnn.pipeline (tests/pipeline/);
here: that the workflow runs them before any job and turns them into one "Invalid pipeline config" line, and the
shape of the DAG they plan."""

import re
import sys

import pytest


def _variants(output):
    return set(re.findall(r"results/runs/[^/\s]+/dynamic_rcnn/([^/\s]+)/seed\d+/metrics\.json", output))


def _slot_launches(output, rule, gpus):
    """How many jobs of ``rule`` a dry run shows, and how many of their shell commands start the tool through the
    GPU-slot launcher with ``--gpus gpus`` (the training's $launch, or python for the evaluation and the epoch
    detections), log redirection kept."""
    module = {"epoch_detections": "detect_epochs"}.get(rule, rule)
    tool = (r"\$launch" if rule == "train" else r"env PYTHONPATH=\S+ \S+") + rf" -m dynrcnn\.tools\.{module} "
    pattern = re.compile(rf"\S+ -m dynrcnn\.tools\.gpu_slots --gpus {gpus} -- {tool}.* > results/logs/{rule}/\S+ 2>&1$")
    shells = [block.split("Shell command:")[1].splitlines()[0] for block in output.split(f"rule {rule}:")[1:]]
    return len(shells), sum(bool(pattern.search(shell)) for shell in shells)


def test_default_config_dry_run(tmp_path, smk):
    # a run folder left by an earlier config (seed 7): not an input of the report, which reads this config's runs
    left = tmp_path / "results" / "runs" / "synthetic" / "baseline" / "default" / "seed7"
    left.mkdir(parents=True)
    for name in ("metrics.json", "scalars.json", "train_manifest.json"):
        (left / name).write_text("{}")
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "default.yaml"], check=True)
    # every module run (`python -m dynrcnn...` / `-m analysis...`) imports the project from the repository, so the
    # rule environments need not install it (--sdm conda); the training's $launch is that interpreter too
    python = f"env PYTHONPATH={smk.repo} {sys.executable}"
    runs = re.findall(r"(\S+ \S+ \S+) -m (?:dynrcnn|analysis)\.", proc.stdout)
    # data (generate, then check: the .ready marker), train (+ launcher) and evaluate of 4 arms x 3 seeds, epoch
    # detections of each arm's seed 0, report
    assert len(runs) == 2 + 12 * 2 + 12 * 2 + 4 * 2 + 1
    assert {r.lstrip("(") for r in runs if not r.endswith("$launch")} == {python}  # (+ launcher), report
    assert proc.stdout.count(f"else launch='{python}'") == 12
    counts = smk.job_counts(proc.stdout)
    assert counts == dict(
        synthetic_data=1, train=12, evaluate=12, epoch_detections=4, report=1, publish_report=1, all=1
    )
    for arm in ("baseline", "dla", "dsl", "dynamic_rcnn"):
        for seed in (0, 1, 2):
            assert f"results/runs/synthetic/{arm}/default/seed{seed}/metrics.json" in proc.stdout
        assert f"results/runs/synthetic/{arm}/default/seed1/epoch_detections" not in proc.stdout
    # CPU: one process per training, no torchrun, one thread; the GPU-slot launcher runs the command unchanged
    assert "--nproc-per-node=1" in proc.stdout and "if [ 1 -gt 1 ]" in proc.stdout
    assert _slot_launches(proc.stdout, "train", 0) == (12, 12)
    assert _slot_launches(proc.stdout, "evaluate", 0) == (12, 12)
    assert _slot_launches(proc.stdout, "epoch_detections", 0) == (4, 4)
    assert "--max-images 20 --out results/runs/synthetic/dsl/default/seed0/epoch_detections" in proc.stdout
    # the report reads exactly the runs of this config, into results/report/; publish_report copies it to reports/
    report = proc.stdout.split("rule report:")[1].split("Shell command:")[1].splitlines()[0]
    assert "seed7" not in proc.stdout
    for option, seeds in (("--metrics", (0, 1, 2)), ("--scalars", (0, 1, 2)), ("--epoch-detections", (0,))):
        files = report.split(f"{option} ")[1].split(" --")[0].split()
        expected = [(arm, f"seed{seed}") for arm in ("baseline", "dla", "dsl", "dynamic_rcnn") for seed in seeds]
        assert [(f.split("/")[3], f.split("/")[5]) for f in files] == expected, option
        assert all(f.startswith("results/runs/synthetic/") and "/default/" in f for f in files), option
    assert "--out-dir results/report/synthetic " in report
    publish = proc.stdout.split("rule publish_report:")[1].split("Shell command:")[1].splitlines()[0]
    assert "cp results/report/synthetic/$f reports/synthetic/$f" in publish
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["runs"]  # nothing written by a dry run


def test_coco_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "coco_1x.yaml", override], check=True)
    counts = smk.job_counts(proc.stdout)
    assert "synthetic_data" not in counts  # COCO is never generated
    assert counts["train"] == 12 and counts["evaluate"] == 12  # 4 arms x 3 seeds
    # the annotation files are checked once, by a job every training waits for
    assert counts["check_dataset"] == 1
    check = proc.stdout.split("rule check_dataset:")[1].split("Shell command:")[1].splitlines()[0]
    assert f"-m dynrcnn.data.check_dataset --root {fake_coco} --dataset coco --out results/data/coco.checked" in check
    trainings = proc.stdout.split("rule train:")[1:]
    assert all("results/data/coco.checked" in job.split("output:")[0] for job in trainings)
    for seed in (0, 1, 2):
        assert f"results/runs/coco_r50_fpn_1x/dla/default/seed{seed}/metrics.json" in proc.stdout
    # 8 GPUs per training: declared as a resource and launched with torchrun
    assert re.search(r"resources:.*gpu=8", proc.stdout)
    assert "--nproc-per-node=8" in proc.stdout and "if [ 8 -gt 1 ]" in proc.stdout
    assert "--dataset coco" in proc.stdout and f"--data-root {fake_coco}" in proc.stdout
    assert "train_dataloader.batch_size=2" in proc.stdout
    assert not (tmp_path / "results").exists() and not (tmp_path / ".snakemake" / "dynrcnn").exists()


def test_sweeps_config_dry_run(tmp_path, smk, fake_coco):
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "sweeps.yaml", override], check=True)
    # one hyper-parameter at a time around K_I 75, K_beta 10, C 100; the defaults themselves are 'default'
    assert _variants(proc.stdout) == {
        "default",
        "ki50-kb10-c100",
        "ki64-kb10-c100",
        "ki100-kb10-c100",
        "ki128-kb10-c100",
        "ki75-kb8-c100",
        "ki75-kb15-c100",
        "ki75-kb10-c20",
        "ki75-kb10-c50",
        "ki75-kb10-c200",
    }
    assert smk.job_counts(proc.stdout)["train"] == 10
    assert "model.train_cfg.rcnn.dynamic_rcnn.iou_topk=128" in proc.stdout
    assert "model.train_cfg.rcnn.dynamic_rcnn.update_iter_interval=20" in proc.stdout


def test_sweep_notices_are_printed(tmp_path, smk):
    """The variants an arm skips (dla ignores K_beta) are named once, while the DAG is built."""
    config = smk.write_config(
        tmp_path / "sweep.yaml",
        base="tiny.yaml",
        arms=["baseline"],
        sweeps={"iou_topk": [3], "beta_topk": [2], "arms": ["dla", "dynamic_rcnn"]},
    )
    proc = smk.run(tmp_path, "-n", configfiles=[config], check=True)
    assert re.findall(r"^sweeps: arm .*$", proc.stdout, flags=re.M) == [
        "sweeps: arm dla ignores beta_topk (DSL off): 1 variant not trained"
    ]


def test_lint_is_clean(smk):
    proc = smk.run(smk.repo, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "Congratulations" in proc.stdout


DYNAMIC = "model.train_cfg.rcnn.dynamic_rcnn"


def _options(*options):
    return dict(train={"max_epochs": 2, "cfg_options": list(options)})


@pytest.mark.parametrize(
    "override, message",
    [
        # the schema (one line naming the field), a check across fields, the dataset root, a sweep arm left with nothing
        (
            dict(sweeps={"iou_topk": [-5]}),
            r"Invalid pipeline config: sweeps\.iou_topk\[0\]: -5 is less than the minimum of 1",
        ),
        (
            _options(f"{DYNAMIC}.initial_iou=1.5"),
            r"Invalid pipeline config: train\.cfg_options\[0\].*initial_iou` must be a number in the open interval",
        ),
        (
            dict(dataset={"name": "coco", "root": "no/such/coco"}, family="coco_r50_fpn_1x"),
            r"Invalid pipeline config: dataset.root 'no/such/coco' is not a COCO 2017 root",
        ),
        (
            dict(sweeps={"beta_topk": [3], "arms": ["dla", "dynamic_rcnn"]}),
            r"Invalid pipeline config: sweeps\.arms contains 'dla', which ignores beta_topk",
        ),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, smk, override, message):
    config = smk.write_config(tmp_path / "bad.yaml", base="tiny.yaml", **override)
    proc = smk.run(tmp_path, "--cores", "1", configfiles=[config])  # a real run, not a dry run
    assert proc.returncode != 0
    assert re.search(message, proc.stdout), proc.stdout[-3000:]
    assert proc.stdout.count("Invalid pipeline config") == 1 and "Failed validating" not in proc.stdout
    assert "Traceback" not in proc.stdout
    assert not (tmp_path / "results").exists()  # nothing started
    assert "rule " not in proc.stdout and "jobid" not in proc.stdout


def test_valid_cfg_options_reach_the_training(tmp_path, smk):
    options = [
        "train_cfg.val_interval=1",
        f"{DYNAMIC}.initial_iou=0.5",
        f"{DYNAMIC}.statistics=official",
        f"{DYNAMIC}.sync_across_ranks=True",
        "model.backbone.init_cfg.checkpoint=/weights/r50.pth",
        "load_from=/checkpoints/detector.pth",
    ]
    config = smk.write_config(tmp_path / "ok.yaml", base="tiny.yaml", **_options(*options))
    proc = smk.run(tmp_path, "-n", configfiles=[config], check=True)
    train = proc.stdout.split("rule train:")[1]
    assert all(option in train for option in options)


def test_bad_coco_annotations_fail_before_any_training(tmp_path, smk, fake_coco):
    """The check_dataset job fails on a wrong annotation file, and no training starts (each waits for it)."""
    (fake_coco / "annotations" / "instances_val2017.json").write_text("[]")
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(tmp_path, "--cores", "2", configfiles=[smk.configs / "coco_1x.yaml", override])
    assert proc.returncode != 0
    assert "Error in rule check_dataset" in proc.stdout, proc.stdout[-3000:]
    assert "rule train:" not in proc.stdout and not (tmp_path / "results" / "runs").exists()
    log = (tmp_path / "results" / "logs" / "data" / "check_dataset.log").read_text()
    assert re.search(
        r"instances_val2017\.json: not a JSON object \(a list\)\. .*point dataset.root at the COCO 2017 "
        "root",
        log,
    ), log
    assert not (tmp_path / "results" / "data" / "coco.checked").exists()


@pytest.mark.parametrize(
    "profile, expected",
    [
        ("slurm", [r"slurm_partition=gpu", r"cpus_per_task=32", r"gpu=8"]),
        ("local_gpu", [r"gpu=8"]),
    ],
)
def test_profiles_place_the_gpu_trainings(tmp_path, smk, fake_coco, profile, expected):
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    proc = smk.run(
        tmp_path,
        "-n",
        "--workflow-profile",
        str(smk.repo / "workflow" / "profiles" / profile),
        configfiles=[smk.configs / "coco_1x.yaml", override],
        check=True,
    )
    assert f"profiles/{profile} for setting default command line arguments" in proc.stdout
    train_jobs = [block for block in proc.stdout.split("rule train:")[1:]]
    assert len(train_jobs) == 12
    for pattern in expected:
        assert all(re.search(pattern, block.split("Shell command")[0]) for block in train_jobs), pattern
    # the launch goes through the GPU-slot launcher (distinct GPUs per job on a local node; a no-op under SLURM):
    # a training's 8 GPUs for torchrun, one for an evaluation
    assert _slot_launches(proc.stdout, "train", 8) == (12, 12)
    assert _slot_launches(proc.stdout, "evaluate", 1) == (12, 12)


@pytest.mark.parametrize("profile", ["slurm", "local_gpu"])
def test_training_threads_are_shared_out_among_the_gpus(tmp_path, smk, fake_coco, profile):
    """32 threads for an 8-GPU training: 4 per torchrun process, not 32 each."""
    override = smk.write_config(
        tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)}, arms=["dla"], seeds=[0]
    )
    proc = smk.run(
        tmp_path,
        "-n",
        "--cores",
        "64",
        "--workflow-profile",
        str(smk.repo / "workflow" / "profiles" / profile),
        configfiles=[smk.configs / "coco_1x.yaml", override],
        check=True,
    )
    shell = proc.stdout.split("rule train:")[1].split("Shell command:")[1].splitlines()[0]
    assert "OMP_NUM_THREADS=4 " in shell and "--threads 4 " in shell


def test_configfile_replaces_default_yaml(tmp_path, smk, fake_coco):
    """With --configfile, default.yaml is not read: keys the file leaves out take the schema's defaults (what the
    README says), not the synthetic default's."""
    import yaml

    schema = yaml.safe_load((smk.repo / "workflow" / "schemas" / "config.schema.yaml").read_text())
    resources = {k: v["default"] for k, v in schema["properties"]["resources"]["properties"].items()}
    default_yaml = yaml.safe_load((smk.configs / "default.yaml").read_text())["resources"]
    assert resources["train_runtime"] != default_yaml["train_runtime"]  # else this test shows nothing
    config = smk.write_config(
        tmp_path / "mini.yaml", dataset={"name": "coco", "root": str(fake_coco)}, family="coco_r50_fpn_1x", arms=["dla"]
    )
    proc = smk.run(tmp_path, "-n", configfiles=[config], check=True)
    train = proc.stdout.split("rule train:")[1].split("Shell command")[0]
    assert f"runtime={resources['train_runtime']}," in train
    assert f"mem_mb={resources['train_mem_mb']}," in train
    assert "seed0" in train and "seed1" not in proc.stdout  # schema default seeds: [0]


def test_editing_the_family_base_config_retrains(tmp_path, smk):
    """configs/{family}/_base_.py is an input of every training (the arm's config stays the trained one): with every
    output up to date, touching it makes each training, and only the trainings and what follows, outdated."""
    import os
    import shutil
    import time

    from dynrcnn.data.synthetic import generate

    repo = tmp_path / "repo"  # a copy of the workflow, so that its config files can be touched
    repo.mkdir()
    for name in ("Snakefile", "workflow", "configs", "profiles"):
        (shutil.copytree if (smk.repo / name).is_dir() else shutil.copy)(smk.repo / name, repo / name)
    work = tmp_path / "work"
    small = dict(num_train=2, num_val=1, image_size=64, seed=0)
    config = smk.write_config(
        tmp_path / "c.yaml",
        base="tiny.yaml",
        arms=["baseline", "dla"],
        dataset=dict(name="synthetic", root="results/data/tiny", synthetic=small),
    )
    generate(work / "results" / "data" / "tiny", **small)
    outputs = ["results/data/tiny.ready"]
    for arm in ("baseline", "dla"):
        run = f"results/runs/synthetic/{arm}/default/seed0"
        outputs += [
            f"{run}/train_manifest.json",
            f"{run}/scalars.json",
            f"{run}/metrics.json",
            f"{run}/detections/final.bbox.json",
            f"{run}/epoch_detections",
        ]
    now = time.time()
    for i, rel in enumerate(outputs):  # every output newer than what it is made from
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("epoch_detections"):
            (work / rel).mkdir()
        else:
            (work / rel).write_text("")
        os.utime(work / rel, (now + 10 + i, now + 10 + i))
    proc = smk.run(work, "-n", configfiles=[config], snakefile=repo / "Snakefile", check=True)
    assert "Nothing to be done" in proc.stdout, proc.stdout[-3000:]

    base = repo / "configs" / "synthetic" / "_base_.py"
    os.utime(base, (now + 100, now + 100))
    out = smk.run(work, "-n", configfiles=[config], snakefile=repo / "Snakefile", check=True).stdout
    assert smk.job_counts(out) == dict(train=2, evaluate=2, epoch_detections=2, all=1), out[-3000:]
    assert out.count(f"reason: Updated input files: {base}") == 2, out[-3000:]
    for arm in ("baseline", "dla"):  # the shell still trains the arm's own config
        assert f"-m dynrcnn.tools.train {repo}/configs/synthetic/{arm}.py --work-dir" in out


def test_tracking_reaches_the_training_command(tmp_path, smk):
    """tracking.backends becomes the train tool's --tracking/--wandb-* arguments, and only that: no cfg option (the
    resolved config, hence the resume decision, stays the same). (That switching it retrains nothing, as it is no
    param of the train rule: tests/workflow/test_e2e.py.)"""
    tracked = dict(backends=["tensorboard", "wandb"], wandb=dict(project="ablation", entity="lab", tags=["v1"]))
    config = smk.write_config(tmp_path / "tracked.yaml", base="tiny.yaml", tracking=tracked)
    out = smk.run(tmp_path, "-n", "-p", configfiles=[config], check=True).stdout
    commands = [line for line in out.splitlines() if "-m dynrcnn.tools.train" in line]
    assert len(commands) == 2
    expected = (
        "--tracking tensorboard,wandb --wandb-project ablation --wandb-entity lab --wandb-tag v1 --wandb-mode offline"
    )
    assert all(expected in command and "visualizer" not in command for command in commands), commands
    plain = smk.run(tmp_path, "-n", "-p", configfiles=[smk.configs / "tiny.yaml"], check=True).stdout
    assert "--tracking" not in plain
    untracked = [line for line in plain.splitlines() if "-m dynrcnn.tools.train" in line]
    assert [" ".join(c.replace(expected, "").split()) for c in commands] == [" ".join(c.split()) for c in untracked]


def test_cpu_processes_dry_run(tmp_path, smk):
    """processes_per_job on CPU: torchrun with N processes, the GPUs hidden, the job's threads shared out."""
    config = smk.write_config(tmp_path / "p.yaml", base="tiny.yaml", processes_per_job=2)
    proc = smk.run(tmp_path, "-n", "--cores", "4", "--set-threads", "train=4", configfiles=[config], check=True)
    trainings = [job.split("Shell command:")[1] for job in proc.stdout.split("rule train:")[1:]]
    assert len(trainings) == 2
    for shell in trainings:
        assert "--nproc-per-node=2" in shell and "if [ 2 -gt 1 ]" in shell
        assert "OMP_NUM_THREADS=2 " in shell and "--threads 2 " in shell and "gpu_slots --gpus 0 " in shell
