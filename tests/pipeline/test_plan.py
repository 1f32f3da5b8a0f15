"""dynrcnn.pipeline.plan: the runs of a config, their files, the dataset root checks, and what the report reads."""

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.outputs import OUTPUTS
from dynrcnn.pipeline import PipelineConfigError, Run, build

REPO = Path(__file__).resolve().parents[2]
DYNAMIC = "model.train_cfg.rcnn.dynamic_rcnn"
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")


def _defaults(family="synthetic"):
    """The family's hyper-parameters (K_I, K_beta, C), read the way MMDetection reads the config."""
    from mmengine.config import Config

    block = Config.fromfile(
        str(REPO / "configs" / family / "dynamic_rcnn.py"), import_custom_modules=False
    ).model.train_cfg.rcnn.dynamic_rcnn
    return block.iou_topk, block.beta_topk, block.update_iter_interval


def _variants(plan, arm):
    return {run.variant for run in plan.runs if run.arm == arm}


def test_default_config_plan(make_config):
    plan = build(make_config("default.yaml"))
    assert plan.runs == [Run(arm, "default", seed) for arm in ARMS for seed in (0, 1, 2, 3)]
    run_dirs = [f"results/runs/synthetic/{arm}/default/seed{seed}" for arm in ARMS for seed in (0, 1, 2, 3)]
    # per-epoch detections: the lowest seed of each arm only, the one the sample figures draw
    detected = [f"results/runs/synthetic/{arm}/default/seed0/epoch_detections" for arm in ARMS]
    assert plan.epoch_detection_runs == [Run(arm, "default", 0) for arm in ARMS]
    assert plan.data_root == "results/data/synthetic" and plan.data_inputs == ["results/data/synthetic.ready"]
    assert plan.val_annotations == "results/data/synthetic/annotations/instances_val.json"
    assert plan.val_images == "results/data/synthetic/val"
    assert plan.report_inputs == dict(
        metrics=[f"{d}/metrics.json" for d in run_dirs],
        scalars=[f"{d}/scalars.json" for d in run_dirs],
        epoch_detections=detected,
        benchmarks=[
            f"results/benchmarks/{rule}/synthetic/{arm}/default/seed{seed}.tsv"
            for rule, seeds in (("train", (0, 1, 2, 3)), ("evaluate", (0, 1, 2, 3)), ("epoch_detections", (0,)))
            for arm in ARMS
            for seed in seeds
        ],
    )
    assert plan.report_benchmark_files == plan.benchmark_files
    assert plan.report_dir == "results/report/synthetic" and plan.published_report_dir == "reports/synthetic"
    assert plan.report_outputs == list(OUTPUTS) and "tables/runs.csv" in plan.report_outputs and "SUMMARY.md" in OUTPUTS
    assert plan.final_targets == (
        [f"{d}/metrics.json" for d in run_dirs] + detected + [f"reports/synthetic/{rel}" for rel in plan.report_outputs]
    )
    assert plan.train_resources() == dict(gpu=0, mem_mb=3000, runtime=30)
    assert plan.eval_resources() == dict(gpu=0, mem_mb=2000, runtime=10)
    assert plan.cfg_options_args("default") == "" and plan.epoch_max_images == 20
    for arm in ARMS:
        assert plan.arm_configs[arm] == str(REPO / "configs" / "synthetic" / f"{arm}.py")
        assert plan.arm_config_bases[arm] == [str(REPO / "configs" / "synthetic" / "_base_.py")]
    assert plan.notices == []


def test_runs_left_from_an_earlier_config_are_not_report_inputs(make_config, tmp_path):
    """A run folder of seed 7 (or of an arm removed since) left in results/runs is not read by the report: its
    inputs are the runs of this config only."""
    for arm, seed in (("baseline", 7), ("dsl", 0)):
        left = tmp_path / "results" / "runs" / "synthetic" / arm / "default" / f"seed{seed}"
        (left / "epoch_detections").mkdir(parents=True)
        for name in ("metrics.json", "scalars.json", "train_manifest.json"):
            (left / name).write_text("{}")
    plan = build(make_config("default.yaml", arms=["baseline", "dla"], seeds=[0]))
    report_inputs = plan.report_inputs
    benchmarks = report_inputs.pop("benchmarks")
    inputs = [path for files in report_inputs.values() for path in files]
    assert len(inputs) == 6 and all("/seed0/" in path for path in inputs)
    assert len(benchmarks) == 6 and all(path.endswith("/seed0.tsv") for path in benchmarks)
    assert not [path for path in benchmarks if "seed7" in path or "/dsl/" in path]
    assert not [path for path in inputs + plan.final_targets if "seed7" in path or "/dsl/" in path]


def test_report_benchmark_inputs_never_schedule_a_finished_job(make_config, tmp_path):
    """The report waits for the benchmark files of the jobs that will run; a finished training or evaluation whose
    benchmark file is missing is left out of the compute table rather than redone."""
    plan = build(make_config("default.yaml", arms=["baseline"], seeds=[0, 1]))
    seed0 = tmp_path / "results" / "runs" / "synthetic" / "baseline" / "default" / "seed0"
    seed0.mkdir(parents=True)
    for name in ("train_manifest.json", "metrics.json"):
        (seed0 / name).write_text("{}")
    kept = tmp_path / "results" / "benchmarks" / "train" / "synthetic" / "baseline" / "default" / "seed0.tsv"
    kept.parent.mkdir(parents=True)
    kept.write_text("s\n1\n")
    bench = "results/benchmarks/{}/synthetic/baseline/default/seed{}.tsv"
    files = build(make_config("default.yaml", arms=["baseline"], seeds=[0, 1])).report_inputs["benchmarks"]
    assert files == [
        bench.format("train", 0),  # finished, its file exists
        bench.format("train", 1),  # will run
        bench.format("evaluate", 1),
        bench.format("epoch_detections", 0),  # no epoch_detections folder yet: will run
    ]
    assert set(files) < set(plan.benchmark_files)


def test_coco_config_plan(make_config, fake_coco):
    plan = build(make_config("coco_1x.yaml", dataset={"name": "coco", "root": f"{fake_coco}/"}))
    assert len(plan.runs) == 12 and {run.seed for run in plan.runs} == {0, 1, 2}
    assert plan.data_root == str(fake_coco)
    # the annotation files are checked by the check_dataset job, which every training waits for
    assert plan.data_inputs == ["results/data/coco.checked"]
    assert plan.annotation_files == [
        f"{fake_coco}/annotations/instances_train2017.json",
        f"{fake_coco}/annotations/instances_val2017.json",
    ]
    assert plan.val_images == f"{fake_coco}/val2017"
    assert plan.train_resources() == dict(gpu=8, mem_mb=64000, runtime=1440)
    assert plan.eval_resources()["gpu"] == 1
    assert plan.cfg_options_args("default") == "--cfg-options train_dataloader.batch_size=2"
    assert plan.epoch_max_images == 100


def test_gpu_model_is_requested_only_with_gpus(make_config, fake_coco):
    resources = {"gpu_model": "a100"}
    coco = {"name": "coco", "root": str(fake_coco)}
    assert (
        build(make_config("coco_1x.yaml", dataset=coco, resources=resources)).train_resources()["gpu_model"] == "a100"
    )
    assert "gpu_model" not in build(make_config("default.yaml", resources=resources)).train_resources()


def test_training_processes(make_config, fake_coco):
    """One process per GPU; on CPU processes_per_job (torchrun with gloo when > 1)."""
    assert build(make_config("tiny.yaml")).train_processes == 1
    assert build(make_config("tiny.yaml", processes_per_job=2)).train_processes == 2
    coco = {"name": "coco", "root": str(fake_coco)}
    assert build(make_config("coco_1x.yaml", dataset=coco)).train_processes == 8
    plan = build(make_config("tiny.yaml", gpus_per_job=2))
    assert plan.train_processes == 2 and plan.train_resources()["gpu"] == 2


def test_train_command_of_a_run(make_config):
    """From a pipeline config to one run's train command, without Snakemake: the arm's config, the run's folders, its
    seed, the data root, the cfg options, a control's endpoint file and the tracking arguments."""
    config = make_config(
        "tiny.yaml",
        seeds=[4],
        dataset={"name": "synthetic", "root": "data/syn/"},
        train={"max_epochs": 3, "deterministic": True, "cfg_options": ["optim_wrapper.optimizer.lr=0.01 "]},
        controls={"iou_thresholds": [0.6], "static_endpoint": True},
        tracking={"backends": ["tensorboard"]},
    )
    plan = build(config)
    head = [sys.executable, "-m", "dynrcnn.tools.train", str(REPO / "configs" / "synthetic" / "baseline.py")]
    options = ["train_cfg.max_epochs=3", "optim_wrapper.optimizer.lr=0.01 "]
    assert plan.train_command(Run("baseline", "static", 4), python=sys.executable) == head + [
        "--work-dir", "results/work/synthetic/baseline/static/seed4",
        "--run-dir", "results/runs/synthetic/baseline/static/seed4",
        "--seed", "4", "--data-root", "data/syn", "--dataset", "synthetic", "--threads", "1", "--launcher", "none",
        "--deterministic", "--cfg-options", *options,
        "--cfg-options-file", "results/runs/synthetic/baseline/static/seed4/endpoint.json",
        "--tracking", "tensorboard",
    ]  # fmt: skip
    iou = plan.train_command(Run("baseline", "iou0.6", 4))
    thresholds = [f"model.train_cfg.rcnn.assigner.{k}=0.6" for k in ("pos_iou_thr", "neg_iou_thr", "min_pos_iou")]
    assert iou[iou.index("--cfg-options") + 1 : iou.index("--tracking")] == thresholds + options
    sweep = plan.train_command(Run("dynamic_rcnn", "ki3-kb4-c5", 4))
    assert sweep[sweep.index("--cfg-options") + 1 :][:3] == [
        f"{DYNAMIC}.iou_topk=3", f"{DYNAMIC}.beta_topk=4", f"{DYNAMIC}.update_iter_interval=5"
    ]  # fmt: skip
    assert sweep[3].endswith("configs/synthetic/dynamic_rcnn.py") and sweep[sweep.index("--seed") + 1] == "4"


def test_train_command_shares_the_threads_out_among_the_processes(make_config, fake_coco):
    """torchrun with --launcher pytorch for N > 1 GPUs (or CPU processes); each process gets threads // N."""
    plan = build(make_config("coco_1x.yaml", dataset={"name": "coco", "root": str(fake_coco)}))
    cmd = plan.train_command(Run("dla", "default", 0), threads=32)
    assert cmd[:5] == ["python", "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=8"]
    assert cmd[cmd.index("--threads") + 1] == "4" and cmd[cmd.index("--launcher") + 1] == "pytorch"
    assert cmd[cmd.index("--dataset") + 1] == "coco" and cmd[cmd.index("--data-root") + 1] == str(fake_coco)
    assert plan.threads_per_process(32) == 4 and plan.threads_per_process(4) == 1
    cpu = build(make_config("tiny.yaml", processes_per_job=2))
    cmd = cpu.train_command(Run("baseline", "default", 0), threads=4)
    assert "--nproc-per-node=2" in cmd and cmd[cmd.index("--threads") + 1] == "2"
    assert "--tracking" not in cmd and "--deterministic" not in cmd and "--cfg-options-file" not in cmd


def test_evaluate_and_epoch_detection_commands(make_config):
    plan = build(make_config("default.yaml"))
    run = Run("dsl", "default", 2)
    folder = "results/runs/synthetic/dsl/default/seed2"
    evaluate = plan.evaluate_command(run, out=f"{folder}/metrics.json", threads=2)
    assert evaluate[3:] == [
        "--run-dir", folder, "--family", "synthetic", "--arm", "dsl", "--variant", "default", "--seed", "2",
        "--dataset", "synthetic", "--threads", "2", "--out", f"{folder}/metrics.json",
    ]  # fmt: skip
    detect = plan.detect_epochs_command(run, out=f"{folder}/epoch_detections")
    assert detect[3:] == [
        "--run-dir", folder, "--threads", "1", "--max-images", "20", "--out", f"{folder}/epoch_detections"
    ]  # fmt: skip


def test_valid_cfg_options_reach_the_training(make_config):
    """Options the config check lets through (each a setting of the head, the backbone or the run) are passed to
    every training as they are."""
    options = [
        "train_cfg.val_interval=1",
        f"{DYNAMIC}.initial_iou=0.5",
        f"{DYNAMIC}.statistics=official",
        f"{DYNAMIC}.sync_across_ranks=True",
        "model.backbone.init_cfg.checkpoint=/weights/r50.pth",
        "load_from=/checkpoints/detector.pth",
    ]
    plan = build(make_config("tiny.yaml", train={"max_epochs": 2, "cfg_options": options}))
    for run in plan.runs:
        cmd = plan.train_command(run)
        assert cmd[cmd.index("--cfg-options") + 1 :] == ["train_cfg.max_epochs=2", *options]


def test_paper_config_plan(make_config, fake_coco):
    """configs/pipeline/coco_1x_paper.yaml: the paper family's 4 arms x 3 seeds on 8 GPUs each, iteration-based (no
    epoch count passed, no epoch checkpoints to detect with)."""
    family = "coco_r50_fpn_1x_paper"
    plan = build(make_config("coco_1x_paper.yaml", dataset={"name": "coco", "root": str(fake_coco)}))
    assert plan.family == family and plan.data_inputs == ["results/data/coco.checked"]
    assert plan.runs == [Run(arm, "default", seed) for arm in ARMS for seed in (0, 1, 2)]
    assert plan.run_files("metrics.json")[-1] == f"results/runs/{family}/dynamic_rcnn/default/seed2/metrics.json"
    assert plan.train_resources()["gpu"] == 8 and plan.epoch_detection_runs == []
    cmd = plan.train_command(Run("dynamic_rcnn", "default", 0), threads=32)
    assert cmd[3:5] == ["--standalone", "--nproc-per-node=8"]
    assert cmd[cmd.index("-m", 2) + 2] == str(REPO / "configs" / family / "dynamic_rcnn.py")
    assert cmd[cmd.index("--dataset") + 1] == "coco" and cmd[cmd.index("--data-root") + 1] == str(fake_coco)
    assert not any(a.startswith("train_cfg.max_epochs") for a in cmd)
    assert not any(t.endswith("/epoch_detections") for t in plan.final_targets)


def test_cfg_options_of_a_variant(make_config):
    plan = build(make_config("tiny.yaml", images_per_gpu=4))
    assert plan.cfg_options("ki3-kb4-c5") == [
        f"{DYNAMIC}.iou_topk=3",
        f"{DYNAMIC}.beta_topk=4",
        f"{DYNAMIC}.update_iter_interval=5",
        "train_cfg.max_epochs=2",
        "train_dataloader.batch_size=4",
        "train_cfg.val_interval=1",
    ]
    assert plan.cfg_options_args("default") == (
        "--cfg-options train_cfg.max_epochs=2 train_dataloader.batch_size=4 train_cfg.val_interval=1"
    )
    quoted = build(make_config("tiny.yaml", train={"cfg_options": ["optim_wrapper.optimizer.lr=0.01 "]}))
    assert quoted.cfg_options_args("default") == "--cfg-options 'optim_wrapper.optimizer.lr=0.01 '"


def test_sweeps_config_variants(make_config, fake_coco):
    plan = build(make_config("sweeps.yaml", dataset={"name": "coco", "root": str(fake_coco)}))
    # one hyper-parameter at a time around K_I 75, K_beta 10, C 100; the defaults themselves are 'default'
    assert _variants(plan, "dynamic_rcnn") == {
        "default",
        "ki50-kb10-c100", "ki64-kb10-c100", "ki100-kb10-c100", "ki128-kb10-c100",
        "ki75-kb8-c100", "ki75-kb15-c100",
        "ki75-kb10-c20", "ki75-kb10-c50", "ki75-kb10-c200",
    }  # fmt: skip
    assert len(plan.runs) == 10 and not plan.epoch_detections
    assert f"{DYNAMIC}.iou_topk=128" in plan.cfg_options_args("ki128-kb10-c100")


def test_grid_sweep_on_synthetic(make_config):
    ki, kb, c = _defaults()
    sweeps = {"mode": "grid", "iou_topk": [ki, ki + 7], "beta_topk": [kb + 1], "arms": ["dynamic_rcnn"]}
    plan = build(make_config("default.yaml", arms=["baseline"], seeds=[0, 1], sweeps=sweeps))
    # every combination of the lists; C (empty list) stays at the default
    assert _variants(plan, "dynamic_rcnn") == {f"ki{ki}-kb{kb + 1}-c{c}", f"ki{ki + 7}-kb{kb + 1}-c{c}"}
    assert len(plan.runs) == 2 * 2 + 2  # 2 variants x 2 seeds + baseline x 2 seeds


@pytest.mark.parametrize("mode", ["one_at_a_time", "grid"])
def test_sweep_skips_the_variants_an_arm_ignores(make_config, mode):
    ki, kb, c = _defaults()  # the family's defaults (all arms)
    one_at_a_time = mode == "one_at_a_time"
    kis, kbs = ([ki, ki + 5, ki + 10], [kb + 1, kb + 2, kb + 3]) if one_at_a_time else ([ki, ki + 5], [kb, kb + 1])
    sweeps = {"mode": mode, "iou_topk": kis, "beta_topk": kbs, "arms": ["dla", "dsl", "dynamic_rcnn"]}
    plan = build(make_config("default.yaml", arms=["baseline"], sweeps=sweeps))
    name = "ki{}-kb{}-c{}".format
    if one_at_a_time:
        full = {name(k, kb, c) for k in kis[1:]} | {name(ki, k, c) for k in kbs}
        dla_dropped, dsl_dropped = 3, 2  # dla: the 3 K_beta variants; dsl: the 2 K_I variants other than the default
    else:
        full = {name(k, b, c) for k in kis for b in kbs} - {name(ki, kb, c)}
        dla_dropped, dsl_dropped = 2, 2
    # dla trains only the default K_beta, dsl only the default K_I, dynamic_rcnn every variant
    assert {arm: _variants(plan, arm) for arm in ("dla", "dsl", "dynamic_rcnn")} == {
        "dla": {"default"} | {name(k, kb, c) for k in kis[1:]},
        "dsl": {"default"} | {name(ki, b, c) for b in kbs if b != kb},
        "dynamic_rcnn": {"default"} | full,
    }
    assert plan.notices == [
        f"sweeps: arm dla ignores beta_topk (DSL off): {dla_dropped} variants not trained",
        f"sweeps: arm dsl ignores iou_topk (DLA off): {dsl_dropped} variants not trained",
    ]


@pytest.mark.parametrize(
    "sweeps, message",
    [
        # an arm whose only swept key is one it ignores (dla: K_beta, dsl: K_I) would train no sweep variant
        ({"beta_topk": [3], "arms": ["dla", "dynamic_rcnn"]},
         r"^sweeps\.arms contains 'dla', which ignores beta_topk \(DSL off\).*drop 'dla' from sweeps\.arms or sweep a "
         r"key it uses \(sweeps\.iou_topk or sweeps\.update_iter_interval\)$"),
        ({"mode": "grid", "iou_topk": [3, 4], "arms": ["dsl"]},
         r"^sweeps\.arms contains 'dsl', which ignores iou_topk \(DLA off\).*drop 'dsl' from sweeps\.arms"),
    ],
)  # fmt: skip
def test_sweep_arm_left_with_nothing_is_refused(make_config, sweeps, message):
    with pytest.raises(PipelineConfigError, match=message):
        build(make_config("tiny.yaml", sweeps=sweeps))


def test_missing_arm_config_is_refused(make_config, tmp_path):
    repo = tmp_path / "repo"
    (repo / "configs" / "synthetic").mkdir(parents=True)
    (repo / "configs" / "synthetic" / "baseline.py").write_text("_base_ = './_base_.py'\n")
    config = make_config("tiny.yaml", arms=["baseline"])
    with pytest.raises(PipelineConfigError, match=r"baseline\.py inherits .*/_base_\.py, which is missing"):
        build(config, repo=repo)
    with pytest.raises(PipelineConfigError, match=r"no MMDetection config for family 'synthetic' and arm 'dla': "):
        build(make_config("tiny.yaml", arms=["dla"]), repo=repo)


# ------------------------------------------------------------------------------------------------ dataset roots
@pytest.mark.parametrize(
    "dataset, message",
    [
        ({"name": "coco"}, r"^dataset.name is 'coco' but dataset.root is not set; set it to the COCO 2017 root"),
        ({"name": "coco", "root": "no/such/coco"}, r"^dataset.root 'no/such/coco' is not a COCO 2017 root: missing "
         r"annotations/instances_train2017\.json, annotations/instances_val2017\.json, train2017, val2017\. Set "
         r"dataset\.root"),
    ],
)  # fmt: skip
def test_unusable_coco_root_is_refused(make_config, dataset, message):
    with pytest.raises(PipelineConfigError, match=message):
        build(make_config("tiny.yaml", family="coco_r50_fpn_1x", dataset=dataset))


def test_incomplete_coco_root_names_what_is_missing(make_config, fake_coco):
    (fake_coco / "val2017").rmdir()
    with pytest.raises(PipelineConfigError, match=r"is not a COCO 2017 root: missing val2017\. Set dataset.root"):
        build(make_config("coco_1x.yaml", dataset={"name": "coco", "root": str(fake_coco)}))


SMALL = dict(num_train=3, num_val=1, image_size=64, seed=0)


@pytest.mark.parametrize(
    "case, message",
    [
        ("file", r"dataset.root '[^']*/ds' is a file, not a folder"),
        ("foreign", r"dataset.root '[^']*/ds' is a non-empty folder that is not a complete synthetic dataset"),
        ("other_parameters", r"dataset.root '[^']*/ds' holds a synthetic dataset generated with other parameters "
                             r"\(dataset.synthetic.num_train: 2 in the dataset, 3 wanted; "
                             r"dataset.synthetic.image_size: 72 in the dataset, 64 wanted\).*Choose another "
                             r"dataset.root .*or delete the folder"),
        ("stale_marker", r"dataset.root '[^']*/ds' holds no synthetic dataset, but its marker '[^']*/ds.ready' says"),
    ],
)  # fmt: skip
def test_unusable_synthetic_root_is_refused_and_kept(make_config, file_state, tmp_path, case, message):
    """A root the synthetic_data rule could neither fill nor reuse is refused, nothing deleted or rewritten."""
    from dynrcnn.data.synthetic import generate

    data = tmp_path / "data"
    data.mkdir()
    root = data / "ds"
    if case == "file":
        root.write_text("not a folder")
    elif case == "foreign":
        root.mkdir()
        (root / "mine.txt").write_text("keep me")
    elif case == "other_parameters":
        generate(root, **{**SMALL, "num_train": 2, "image_size": 72})
    else:
        (data / "ds.ready").write_text("{}")
    before = file_state(data)
    with pytest.raises(PipelineConfigError, match=message):
        build(make_config("tiny.yaml", dataset=dict(name="synthetic", root=str(root), synthetic=SMALL)))
    assert file_state(data) == before


def test_synthetic_root_of_the_same_parameters_is_reused(make_config, tmp_path):
    from dynrcnn.data.synthetic import generate

    generate(tmp_path / "ds", **SMALL)
    plan = build(make_config("tiny.yaml", dataset=dict(name="synthetic", root=f"{tmp_path}/ds/", synthetic=SMALL)))
    assert plan.data_root == f"{tmp_path}/ds" and plan.data_inputs == [f"{tmp_path}/ds.ready"]


# ---------------------------------------------------------------------------------------------------- torch-free
def test_planning_imports_neither_torch_nor_mmdet(tmp_path):
    """The workflow builds the plan while it builds the DAG: the default config, with its dataset folder missing or
    complete (the reuse check, dynrcnn.data.synthetic_record), imports none of torch, mmcv, mmdet, OpenCV, numpy and
    PIL; a sweep (which reads the arm configs' hyper-parameters through mmengine's Config) none of the first three."""
    default = str(REPO / "configs/pipeline/default.yaml")
    code = (
        "import json, os, sys\n"
        "from dynrcnn.data.synthetic_record import COMPLETE_MARKER, SyntheticConfig\n"
        "from dynrcnn.pipeline import build, load\n"
        f"plan = build(load({default!r}))\n"
        "os.makedirs(plan.data_root)\n"
        "marker = SyntheticConfig(**plan.config['dataset']['synthetic']).to_dict()\n"
        "open(os.path.join(plan.data_root, COMPLETE_MARKER), 'w').write(json.dumps(marker))\n"
        f"reused = build(load({default!r}))\n"
        "print(len(plan.runs), len(reused.runs))\n"
        "print(sorted(m for m in ('torch', 'mmdet', 'mmcv', 'cv2', 'numpy', 'PIL') if m in sys.modules))\n"
        f"sweep = load({default!r})\n"
        "sweep['sweeps'] = dict(iou_topk=[3], arms=['dynamic_rcnn'])\n"
        "print(len(build(sweep).runs))\n"
        "print(sorted(m for m in ('torch', 'mmdet', 'mmcv') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    # 4 arms x 4 seeds, the dataset folder reused; + 1 sweep point x 4 seeds
    assert out.stdout.split("\n")[:4] == ["16 16", "[]", "20", "[]"], out.stdout
