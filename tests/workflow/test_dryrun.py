"""Dry runs of pipeline configs through the real `snakemake` command, the linter, and how a bad config stops it: the
wiring between the rules and the plan.

The DAG's shape (runs, variants, cfg options, resources, commands) is asserted on :class:`dynrcnn.pipeline.Plan`
directly (tests/pipeline/); the checks themselves (schema, fields, dataset roots, sweeps) too. Here: that each job's
shell is the plan's command as a job runs it (dynrcnn.tools.commands), with the job's threads and GPUs, the rules'
inputs and logs, the profiles' resources, the notices printed, and one "Invalid pipeline config" line before any
job."""

import os
import re
import sys

import pytest

from dynrcnn.pipeline import build, load
from dynrcnn.tools import commands

ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")


def _shells(output):
    """The shell command of every job a dry run shows."""
    return [line.split("Shell command: ", 1)[1] for line in output.splitlines() if line.startswith("Shell command: ")]


def _jobs(output, rule):
    """The dry run's blocks of the ``rule`` jobs (its input, output, resources and shell)."""
    return output.split(f"rule {rule}:")[1:]


def _plan(smk, *configs, **overrides):
    """The plan the Snakefile builds of these config files (with top-level ``overrides``)."""
    config = load(*configs)
    config.update(overrides)
    return build(config, repo=smk.repo)


def _python(smk, output):
    """The interpreter the jobs run: Snakemake's own (this one, maybe through another path), the project imported
    from the repository (PYTHONPATH through `env`), so that the rule environments need not install it."""
    found = re.findall(rf"env PYTHONPATH={re.escape(str(smk.repo))} (\S+) -m dynrcnn\.", output)
    assert found and len(set(found)) == 1 and os.path.samefile(found[0], sys.executable), set(found)
    return ["env", f"PYTHONPATH={smk.repo}", found[0]]


def _expected(plan, python, rule, run, threads=1, gpus=0):
    """A job's shell: the plan's command of ``run`` through gpu_slots, its log kept (dynrcnn.tools.commands)."""
    folder = plan.run_dir(run)
    if rule == "train":
        tool = plan.train_command(run, threads, python)
        threads = plan.threads_per_process(threads)
    elif rule == "evaluate":
        tool = plan.evaluate_command(run, f"{folder}/metrics.json", threads, python)
    else:
        tool = plan.detect_epochs_command(run, f"{folder}/epoch_detections", threads, python)
    job = commands.shell(commands.job_command(tool, gpus=gpus, threads=threads, python=python))
    return f"{job} > results/logs/{rule}/{plan.family}/{run.arm}/{run.variant}/seed{run.seed}.log 2>&1"


def test_default_config_dry_run(tmp_path, smk, monkeypatch):
    # a run folder left by an earlier config (seed 7): not an input of the report, which reads this config's runs
    left = tmp_path / "results" / "runs" / "synthetic" / "baseline" / "default" / "seed7"
    left.mkdir(parents=True)
    for name in ("metrics.json", "scalars.json", "train_manifest.json"):
        (left / name).write_text("{}")
    proc = smk.run(tmp_path, "-n", configfiles=[smk.configs / "default.yaml"], check=True)
    counts = smk.job_counts(proc.stdout)
    assert counts == dict(
        synthetic_data=1, train=16, evaluate=16, epoch_detections=4, report=1, publish_report=1, all=1
    )
    # every job's shell is the plan's command: one process, one thread, no GPU, its log kept
    monkeypatch.chdir(tmp_path)
    plan = _plan(smk, smk.configs / "default.yaml")
    python = _python(smk, proc.stdout)
    shells = _shells(proc.stdout)
    for run in plan.runs:
        assert _expected(plan, python, "train", run) in shells, run
        assert _expected(plan, python, "evaluate", run) in shells, run
    for run in plan.epoch_detection_runs:
        assert _expected(plan, python, "epoch_detections", run) in shells, run
    assert len(plan.runs) == 16 and len(plan.epoch_detection_runs) == 4
    # every module run (`python -m dynrcnn...` / `-m analysis...`) imports the project from the repository, so the
    # rule environments need not install it (--sdm conda)
    runs = re.findall(r"(\S+ \S+ \S+) -m (?:dynrcnn|analysis)\.", proc.stdout)
    # data (generate, then check: the .ready marker); train, evaluate, epoch detections (+ gpu_slots); report
    assert len(runs) == 2 + (16 + 16 + 4) * 2 + 1
    assert {r.lstrip("(") for r in runs} == {" ".join(python)}
    # a training's inputs: its arm's config and what that inherits (editing configs/synthetic/_base_.py retrains
    # every run), and the dataset
    for job in _jobs(proc.stdout, "train"):
        inputs = job.split("output:")[0]
        arm = re.search(r"results/runs/synthetic/(\w+)/default/seed\d/train_manifest\.json", job).group(1)
        assert f"{smk.repo}/configs/synthetic/{arm}.py" in inputs
        assert f"{smk.repo}/configs/synthetic/_base_.py" in inputs and "results/data/synthetic.ready" in inputs
    # the report reads exactly the runs of this config, into results/report/; publish_report copies it to reports/
    report = proc.stdout.split("rule report:")[1].split("Shell command:")[1].splitlines()[0]
    assert "seed7" not in proc.stdout
    for option, seeds in (("--metrics", (0, 1, 2, 3)), ("--scalars", (0, 1, 2, 3)), ("--epoch-detections", (0,))):
        files = report.split(f"{option} ")[1].split(" --")[0].split()
        expected = [(arm, f"seed{seed}") for arm in ARMS for seed in seeds]
        assert [(f.split("/")[3], f.split("/")[5]) for f in files] == expected, option
        assert all(f.startswith("results/runs/synthetic/") and "/default/" in f for f in files), option
    assert "--out-dir results/report/synthetic " in report
    publish = proc.stdout.split("rule publish_report:")[1].split("Shell command:")[1].splitlines()[0]
    assert "cp results/report/synthetic/$f reports/synthetic/$f" in publish
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["runs"]  # nothing written by a dry run


def test_coco_config_on_the_slurm_profile(tmp_path, smk, fake_coco, monkeypatch):
    """COCO: checked once by a job every training waits for; the SLURM profile's resources; 8 GPUs per training for
    torchrun, the job's 32 threads shared out (4 per process); one GPU per evaluation."""
    override = smk.write_config(tmp_path / "root.yaml", dataset={"name": "coco", "root": str(fake_coco)})
    profile = smk.repo / "workflow" / "profiles" / "slurm"
    configs = [smk.configs / "coco_1x.yaml", override]
    proc = smk.run(tmp_path, "-n", "--cores", "64", "--workflow-profile", str(profile), configfiles=configs, check=True)
    assert "profiles/slurm for setting default command line arguments" in proc.stdout
    counts = smk.job_counts(proc.stdout)
    assert "synthetic_data" not in counts  # COCO is never generated
    assert counts["check_dataset"] == 1 and counts["train"] == 12 and counts["evaluate"] == 12
    check = proc.stdout.split("rule check_dataset:")[1].split("Shell command:")[1].splitlines()[0]
    assert f"-m dynrcnn.data.check_dataset --root {fake_coco} --dataset coco --out results/data/coco.checked" in check
    trainings = _jobs(proc.stdout, "train")
    for job in trainings:
        assert "results/data/coco.checked" in job.split("output:")[0]
        resources = job.split("Shell command")[0]
        assert all(re.search(p, resources) for p in (r"slurm_partition=gpu", r"cpus_per_task=32", r"gpu=8")), job
    monkeypatch.chdir(tmp_path)
    plan = _plan(smk, *configs)
    python = _python(smk, proc.stdout)
    shells = _shells(proc.stdout)
    for run in plan.runs:
        assert _expected(plan, python, "train", run, threads=32, gpus=8) in shells, run
        assert _expected(plan, python, "evaluate", run, threads=4, gpus=1) in shells, run
    train = next(s for s in shells if "-m dynrcnn.tools.train" in s)
    assert "OMP_NUM_THREADS=4 " in train and "gpu_slots --gpus 8 -- " in train and "--nproc-per-node=8" in train
    assert "--threads 4 --launcher pytorch" in train and "--dataset coco" in train
    assert not (tmp_path / "results").exists() and not (tmp_path / ".snakemake" / "dynrcnn").exists()


def test_tiny_config_with_tracking_sweeps_and_cpu_processes(tmp_path, smk, monkeypatch):
    """The sweep notices are printed while the DAG is built; tracking and processes_per_job reach the trainings
    through the plan's command (torchrun on CPU, the GPUs hidden, the threads shared out)."""
    overrides = dict(
        arms=["baseline"],
        sweeps={"iou_topk": [3], "beta_topk": [2], "arms": ["dla", "dynamic_rcnn"]},
        tracking=dict(backends=["tensorboard", "wandb"], wandb=dict(project="ablation", entity="lab", tags=["v1"])),
        processes_per_job=2,
    )
    config = smk.write_config(tmp_path / "c.yaml", base="tiny.yaml", **overrides)
    proc = smk.run(tmp_path, "-n", "--cores", "4", "--set-threads", "train=4", configfiles=[config], check=True)
    assert re.findall(r"^sweeps: arm .*$", proc.stdout, flags=re.M) == [
        "sweeps: arm dla ignores beta_topk (DSL off): 1 variant not trained"
    ]
    monkeypatch.chdir(tmp_path)
    plan = _plan(smk, smk.configs / "tiny.yaml", **overrides)
    python = _python(smk, proc.stdout)
    shells = _shells(proc.stdout)
    assert (
        smk.job_counts(proc.stdout)["train"] == len(plan.runs) == 4
    )  # baseline; dla 1 and dynamic_rcnn 2 sweep points
    for run in plan.runs:
        assert _expected(plan, python, "train", run, threads=4) in shells, run
    train = next(s for s in shells if "-m dynrcnn.tools.train" in s)
    assert "--nproc-per-node=2" in train and "OMP_NUM_THREADS=2 " in train and "--threads 2 " in train
    assert "--wandb-project ablation --wandb-entity lab --wandb-tag v1 --wandb-mode offline" in train


def test_lint_is_clean(smk):
    proc = smk.run(smk.repo, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout[-5000:]
    assert "Congratulations" in proc.stdout


@pytest.mark.parametrize(
    "override, message",
    [
        # one case for the wiring: every check of dynrcnn.pipeline raises PipelineConfigError, whose messages are
        # tested in tests/pipeline/ (the schema, checks across fields, the dataset root, sweeps, controls)
        (
            dict(sweeps={"iou_topk": [-5]}),
            r"Invalid pipeline config: sweeps\.iou_topk\[0\]: -5 is less than the minimum of 1",
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


@pytest.mark.parametrize("profile", ["slurm", "local_gpu"])
def test_gpu_profiles_give_a_training_4_threads_per_gpu(smk, fake_coco, profile, make_config):
    """Both GPU profiles give a training 32 threads, which the plan shares out among coco_1x's 8 torchrun processes
    (the SLURM profile's dry run above shows them in the job's shell)."""
    import yaml

    settings = yaml.safe_load((smk.repo / "workflow" / "profiles" / profile / "config.yaml").read_text())
    plan = build(make_config("coco_1x.yaml", dataset={"name": "coco", "root": str(fake_coco)}))
    assert settings["set-threads"]["train"] == 32 and plan.train_processes == 8
    assert plan.threads_per_process(settings["set-threads"]["train"]) == 4
    if profile == "local_gpu":  # Snakemake starts a job only while the GPUs it declares are free
        assert settings["resources"]["gpu"] == plan.train_resources()["gpu"] == 8
