"""dynrcnn.pipeline.config: the schema (one line naming the field, defaults filled in) and the checks across fields,
each with the key to change."""

import re
import sys
from pathlib import Path

import pytest

from dynrcnn.pipeline import PipelineConfigError, load, validate
from dynrcnn.pipeline.config import SCHEMA

DYNAMIC = "model.train_cfg.rcnn.dynamic_rcnn"


def _options(*options):
    return dict(train={"max_epochs": 2, "cfg_options": list(options)})


@pytest.mark.parametrize(
    "override, message",
    [
        # schema violations: one line naming the field (no dump of the schema)
        (dict(arms=["baseline", "faster_rcnn"]), r"^arms\[1\]: 'faster_rcnn' is not one of"),
        (
            dict(sweeps={"iou_topk": [50, "seventy-five"]}),
            r"^sweeps\.iou_topk\[1\]: 'seventy-five' is not of type 'integer'",
        ),
        (
            dict(sweeps={"update_iter_interval": [1.5]}),
            r"^sweeps\.update_iter_interval\[0\]: 1.5 is not of type 'integer'",
        ),
        (
            dict(sweeps={"iou_topk": [-5]}),
            r"^sweeps\.iou_topk\[0\]: -5 is less than the minimum of 1 \(every key, its type "
            r"and default: workflow/schemas/config.schema.yaml\)$",
        ),
        (dict(seeds=[]), r"^seeds: \[\] should be non-empty"),
        (dict(family="coco_r101"), r"^family: 'coco_r101' is not one of"),
        (dict(epochs=3), r"^top level: Additional properties are not allowed \('epochs' was unexpected\)"),
        (dict(dataset=5), r"^dataset: 5 is not of type 'object'"),
        # dataset and family must match
        (
            dict(dataset={"name": "coco", "root": "no/such/coco"}),
            r"dataset\.name is 'coco' but family is 'synthetic'.*"
            r"set family: coco_r50_fpn_1x or coco_r50_fpn_1x_paper to",
        ),
        (
            dict(family="coco_r50_fpn_1x"),
            r"dataset\.name is 'synthetic' but family is 'coco_r50_fpn_1x'.*set family: synthetic",
        ),
        (
            dict(
                dataset={"name": "coco", "root": "no/such/coco"},
                family="coco_r50_fpn_1x_paper",
                train={"max_epochs": 2},
            ),
            r"^train\.max_epochs is set but family 'coco_r50_fpn_1x_paper' trains by iteration.*train_cfg\.max_iters",
        ),
        # sweeps that would train nothing, or duplicates
        (dict(sweeps={"iou_topk": [50], "arms": []}), r"sweeps\.iou_topk is set but sweeps\.arms is empty"),
        (
            dict(sweeps={"iou_topk": [50], "beta_topk": [3], "arms": []}),
            r"^sweeps\.iou_topk and sweeps\.beta_topk are set but sweeps\.arms is empty",
        ),
        (
            dict(sweeps={"iou_topk": [50], "arms": ["baseline", "dynamic_rcnn"]}),
            r"sweeps\.arms contains 'baseline'.*remove 'baseline' from sweeps\.arms",
        ),
        # cfg_options keys the pipeline owns, each with the pipeline key to use
        *[
            (_options(f"{DYNAMIC}.{key}=75"), rf"^train\.cfg_options\[0\] '{DYNAMIC}\.{key}=75': .*sweeps\.{key}")
            for key in ("iou_topk", "beta_topk", "update_iter_interval")
        ],
        (
            _options(f"{DYNAMIC}.dynamic_label=False"),
            r"cfg_options\[0\].*dynamic_label is set by the arm.*choose the arms",
        ),
        (_options(f"{DYNAMIC}={{}}"), r"cfg_options\[0\].*set single keys instead"),
        (
            _options("train_cfg.val_interval=1", "train_dataloader.batch_size=3"),
            r"^train\.cfg_options\[1\] 'train_dataloader\.batch_size=3'.*set images_per_gpu",
        ),
        (_options("train_cfg.max_epochs=5"), r"cfg_options\[0\].*set train\.max_epochs"),
        (_options("train_dataloader.dataset.data_root=/data/"), r"cfg_options\[0\].*set dataset\.root"),
        (_options("val_evaluator.ann_file=/data/val.json"), r"cfg_options\[0\].*set dataset\.root"),
        (_options("val_evaluator.outfile_prefix=/tmp/x"), r"cfg_options\[0\].*outfile_prefix is set by the pipeline"),
        (_options("work_dir=/tmp/w"), r"cfg_options\[0\].*work_dir is set by the pipeline.*--directory"),
        (_options("randomness.seed=3"), r"cfg_options\[0\].*set seeds / train\.deterministic"),
        (_options("launcher=slurm"), r"cfg_options\[0\].*set gpus_per_job"),
        (_options("resume=True"), r"cfg_options\[0\].*delete its folder in results/work/"),
        (
            _options("train_cfg.rcnn.dynamic_rcnn.initial_iou=0.5"),
            r"cfg_options\[0\].*model keys start with 'model\.' \(write model\.train_cfg\.rcnn",
        ),
        (_options(f"{DYNAMIC}.initial_iou.x=0.5"), rf"cfg_options\[0\].*write {DYNAMIC}\.initial_iou=VALUE"),
        # other dynamic_rcnn values: the head's own checks, on the value the training would get
        (
            _options(f"{DYNAMIC}.initial_iou=1.5"),
            r"cfg_options\[0\].*initial_iou` must be a number in the open interval",
        ),
        (_options(f"{DYNAMIC}.initial_beta=0"), r"cfg_options\[0\].*initial_beta` must be a finite number > 0"),
        (_options(f"{DYNAMIC}.sync_across_ranks=yes"), r"cfg_options\[0\].*sync_across_ranks` must be True or False"),
        (
            _options(f"{DYNAMIC}.statistics=paper"),
            r"cfg_options\[0\].*statistics` must be one of \('mmdet', 'official'\)",
        ),
        (
            _options(f"{DYNAMIC}.iou_thr=0.5"),
            r"cfg_options\[0\].*Unknown key\(s\) \['iou_thr'\].*Fix the value or remove",
        ),
        (_options(f"{DYNAMIC}.initial_iou=(0.5,1"), r"cfg_options\[0\].*cannot parse the value \(Imbalanced brackets"),
        (dict(processes_per_job=0), r"^processes_per_job: 0 is less than the minimum of 1"),
        (
            dict(processes_per_job=2, gpus_per_job=2),
            r"^processes_per_job is 2 but gpus_per_job is 2: .*set processes_per_job: 1",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_key(make_config, override, message):
    config = make_config("tiny.yaml", **override)
    with pytest.raises(PipelineConfigError) as raised:
        validate(config)
    text = str(raised.value)
    assert re.search(message, text), text
    assert "\n" not in text and "Failed validating" not in text


def test_valid_cfg_options_pass(make_config):
    """Values as the training's --cfg-options parser reads them (mmengine's DictAction: 'True' and 'true' are
    booleans, numbers are numbers, other words strings)."""
    options = [
        "train_cfg.val_interval=1",
        f"{DYNAMIC}.initial_iou=0.5",
        f"{DYNAMIC}.statistics=official",
        f"{DYNAMIC}.sync_across_ranks=True",
        f"{DYNAMIC}.sync_across_ranks=false",
        f"{DYNAMIC}.initial_beta=1e-3",
        "model.backbone.init_cfg.checkpoint=/weights/r50.pth",
        "load_from=/checkpoints/detector.pth",
    ]
    config = make_config("tiny.yaml", **_options(*options))
    assert validate(config)["train"]["cfg_options"] == options


def test_schema_defaults_are_filled_in(make_config):
    """A config names only what it changes: every other key takes the schema's default (as snakemake.utils.validate
    fills them), nested blocks included."""
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    config = validate(make_config(arms=["dla"]))
    assert config["arms"] == ["dla"]
    assert config["seeds"] == schema["properties"]["seeds"]["default"] == [0]
    resources = schema["properties"]["resources"]["properties"]
    assert config["resources"] == {k: v["default"] for k, v in resources.items()}
    assert config["dataset"]["synthetic"]["num_train"] == 600
    assert config["sweeps"]["mode"] == "one_at_a_time" and config["evaluate"]["epoch_detections"] is True


@pytest.mark.parametrize("name", ["default.yaml", "tiny.yaml", "coco_1x.yaml", "sweeps.yaml"])
def test_shipped_configs_are_valid(name, make_config):
    validate(make_config(name))


def test_load_merges_files_key_by_key(tmp_path):
    """As `snakemake --configfile A B`: B's keys update A's, nested blocks key by key."""
    (tmp_path / "a.yaml").write_text("arms: [dla]\ndataset: {name: coco, root: /a}\n")
    (tmp_path / "b.yaml").write_text("dataset: {root: /b}\nseeds: [1]\n")
    assert load(tmp_path / "a.yaml", tmp_path / "b.yaml") == dict(
        arms=["dla"], dataset=dict(name="coco", root="/b"), seeds=[1]
    )


def test_checks_import_neither_torch_nor_mmdet(make_config):
    """Checking dynamic_rcnn values uses mmengine's parser and the head's checker without torch or mmdet."""
    import subprocess

    code = (
        "import sys\n"
        "from dynrcnn.pipeline import load, validate\n"
        "config = load('configs/pipeline/tiny.yaml')\n"
        f"config['train']['cfg_options'] = ['{DYNAMIC}.initial_iou=0.3']\n"
        "validate(config)\n"
        "print(sorted(m for m in ('torch', 'mmdet', 'mmcv') if m in sys.modules))\n"
    )
    repo = SCHEMA.parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_headline_seeds_config_adds_seeds_to_the_headlines_arms(tmp_path, monkeypatch):
    """configs/pipeline/headline_seeds.yaml on top of the default: the four arms x the default's 4 seeds, and 8 more
    for the baseline and Dynamic R-CNN only, enough for the headline's Holm-adjusted verdict at the measured effect."""
    from analysis.comparisons import seeds_needed
    from dynrcnn.pipeline import build

    monkeypatch.chdir(tmp_path)
    pipeline = Path(__file__).resolve().parents[2] / "configs" / "pipeline"
    config = load(pipeline / "default.yaml", pipeline / "headline_seeds.yaml")
    validate(config)
    plan = build(config)
    runs = sorted({(r.arm, r.seed) for r in plan.runs})
    assert runs == sorted(
        [(arm, seed) for arm in ("dla", "dsl") for seed in range(4)]
        + [(arm, seed) for arm in ("baseline", "dynamic_rcnn") for seed in range(12)]
    )
    assert len(plan.runs) == 32 and {r.variant for r in plan.runs} == {"default"}
    # the measured headline at the family's clip of 10 (benchmarks/results/2026-12-04_headline_grad_clip.txt) at
    # Holm's first level over 3 arms
    assert sum(arm == "dynamic_rcnn" for arm, _ in runs) >= seeds_needed(0.81, 0.72, alpha=0.05 / 3)


def test_extra_seeds_train_only_the_named_arms_default_runs(tmp_path, monkeypatch):
    """extra_seeds adds default runs of the named arms (a seed already in seeds is not trained twice), and no sweep
    or control variant; an arm that is not in arms is one error naming the field and the fix."""
    from dynrcnn.pipeline import build

    monkeypatch.chdir(tmp_path)
    config = {
        "arms": ["baseline", "dynamic_rcnn"],
        "seeds": [0, 1],
        "extra_seeds": {"dynamic_rcnn": [1, 5]},
        "sweeps": {"iou_topk": [30], "arms": ["dynamic_rcnn"]},
        "controls": {"betas": [0.5]},
    }
    validate(config)
    planned = [(r.arm, r.variant, r.seed) for r in build(config).runs]
    runs = set(planned)
    assert len(planned) == len(runs)  # seed 1 of dynamic_rcnn once
    assert ("dynamic_rcnn", "default", 5) in runs
    assert {seed for arm, _, seed in runs if arm == "baseline"} == {0, 1}
    assert {seed for _, variant, seed in runs if variant != "default"} == {0, 1}
    with pytest.raises(PipelineConfigError, match=r"^extra_seeds\.dla: 'dla' is not in arms .* add dla to arms"):
        validate({"arms": ["baseline"], "extra_seeds": {"dla": [3]}})
    with pytest.raises(PipelineConfigError, match=r"^extra_seeds\.dsl\[0\]: -1 is less than the minimum of 0"):
        validate({"extra_seeds": {"dsl": [-1]}})
