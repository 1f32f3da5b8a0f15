"""dynrcnn.families: the one list of each family's deviations from the paper, and the texts rendered from it."""

import re
from pathlib import Path

import pytest

from dynrcnn import families as F

REPO = Path(__file__).resolve().parents[1]
ARMS = ("baseline", "dla", "dsl", "dynamic_rcnn")
README_SECTION = "## How close to the paper is each family"


def test_every_family_has_its_configs_a_dataset_and_a_rule():
    assert set(F.FAMILIES) == {"synthetic", "coco_r50_fpn_1x", "coco_r50_fpn_1x_paper"}
    for name, fam in F.FAMILIES.items():
        assert fam.name == name
        assert fam.dataset in ("synthetic", "coco")
        assert fam.statistics in F.STATISTICS_RULES
        assert fam.deviations and all(isinstance(d, F.Deviation) for d in fam.deviations)
        for arm in ("_base_", *ARMS):
            assert (REPO / "configs" / name / f"{arm}.py").is_file(), (name, arm)
    assert F.FAMILY_DATASETS == {
        "synthetic": "synthetic",
        "coco_r50_fpn_1x": "coco",
        "coco_r50_fpn_1x_paper": "coco",
    }


def test_the_coco_families_share_the_unmatched_deviations():
    coco, paper = F.FAMILIES["coco_r50_fpn_1x"], F.FAMILIES["coco_r50_fpn_1x_paper"]
    assert coco.deviations == F.RECIPE_DEVIATIONS + F.UNMATCHED
    assert paper.deviations == F.UNMATCHED
    assert (coco.statistics, paper.statistics) == ("mmdet", "official")
    # a deviation the paper family removes carries the config keys that remove it; one it cannot remove has none
    assert all(d.keys for d in F.RECIPE_DEVIATIONS)
    assert not any(d.keys for d in F.UNMATCHED)
    keys = [k for d in F.RECIPE_DEVIATIONS for k in d.keys]
    assert len(keys) == len(set(keys))
    # no key lies under another one (the config diff maps every differing key to one deviation)
    assert not [(a, b) for a in keys for b in keys if a != b and a.startswith(b + ".")]
    for fam in F.FAMILIES.values():
        settings = [d.setting for d in fam.deviations]
        assert len(settings) == len(set(settings)), fam.name
    for d in F.RECIPE_DEVIATIONS + F.UNMATCHED:
        assert d.setting and d.ours and d.paper and d.effect
        assert "\n" not in d.line() + d.effect and "|" not in d.line() + d.effect


def test_family_names_an_unknown_one():
    with pytest.raises(KeyError, match=r"unknown config family 'coco_r101'; known: synthetic, coco_r50_fpn_1x"):
        F.family("coco_r101")


@pytest.mark.parametrize("name", ["coco_r50_fpn_1x", "coco_r50_fpn_1x_paper"])
def test_config_header_lists_the_familys_deviations(name):
    """The COCO families' _base_.py headers carry the block rendered from dynrcnn/families.py, unchanged."""
    block = F.header_comment(name)
    text = (REPO / "configs" / name / "_base_.py").read_text()
    assert block in text, f"regenerate the header with: python -m dynrcnn.families header {name}"
    assert block.count("\n#   - ") == len(F.FAMILIES[name].deviations)
    assert all(len(line) <= 120 for line in block.splitlines())


def test_readme_section_is_rendered_from_the_families():
    readme = (REPO / "README.md").read_text()
    start = readme.index(README_SECTION)
    end = readme.index("\n## ", start + 1)
    assert readme[end:].startswith("\n## Benchmarks")  # right before "## Benchmarks"
    assert F.readme_table() in readme[start:end], "regenerate the tables with: python -m dynrcnn.families readme"


def test_comparison_preface_names_family_rule_and_every_deviation():
    for name, fam in F.FAMILIES.items():
        lines = F.comparison_preface(name)
        assert lines[0].startswith(f"Family: {name} (")
        assert f"statistics rule: '{fam.statistics}'" in lines[0]
        assert len(lines) == 1 + len(fam.deviations)
        for i, (line, d) in enumerate(zip(lines[1:], fam.deviations), 1):
            assert line.startswith(f"{i}. {d.line()}; effect: ")


def test_command_line(capsys):
    F.main(["readme"])
    assert capsys.readouterr().out == F.readme_table()
    F.main(["header", "coco_r50_fpn_1x_paper"])
    assert capsys.readouterr().out == F.header_comment("coco_r50_fpn_1x_paper")
    F.main(["preface", "synthetic"])
    assert capsys.readouterr().out.splitlines() == F.comparison_preface("synthetic")
    with pytest.raises(SystemExit):
        F.main(["header"])
    assert re.search(r"header needs a family", capsys.readouterr().err)


def test_stdlib_only():
    """The workflow and the torch-free analysis package can import it."""
    source = (REPO / "dynrcnn" / "families.py").read_text()
    imports = set(re.findall(r"^(?:from|import) (\w+)", source, flags=re.M))
    assert imports <= {"argparse", "re", "textwrap", "dataclasses", "pathlib"}


def test_update_rewrites_headers_and_readme(tmp_path):
    for name in ("coco_r50_fpn_1x", "coco_r50_fpn_1x_paper"):
        (tmp_path / "configs" / name).mkdir(parents=True)
        text = (REPO / "configs" / name / "_base_.py").read_text()
        stale = text.replace("#   - ", "#   - a stale line\n#   - ", 1)
        (tmp_path / "configs" / name / "_base_.py").write_text(stale)
    readme = (REPO / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme.replace(F.RECIPE_DEVIATIONS[1].effect, "stale"))
    changed = F.update_files(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in changed) == [
        "README.md",
        "configs/coco_r50_fpn_1x/_base_.py",
        "configs/coco_r50_fpn_1x_paper/_base_.py",
    ]
    for name in ("coco_r50_fpn_1x", "coco_r50_fpn_1x_paper"):
        assert (tmp_path / "configs" / name / "_base_.py").read_text() == (
            REPO / "configs" / name / "_base_.py"
        ).read_text()
    assert (tmp_path / "README.md").read_text() == readme
    assert F.update_files(tmp_path) == []


def test_synthetic_deviations_state_the_configs_values():
    """The synthetic family's deviations (rendered into every comparison table) quote its config's current values:
    a change of the config that leaves them stale fails here."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(REPO / "configs" / "synthetic" / "_base_.py"), import_custom_modules=False)
    text = {d.setting: d.ours for d in F.family("synthetic").deviations}
    dyn = cfg.model.train_cfg.rcnn.dynamic_rcnn
    steps = cfg.param_scheduler[1]
    epoch_iters = 600 // cfg.train_dataloader.batch_size  # the default dataset's 600 training images
    assert f"{cfg.image_size} px images" in text["dataset"]
    assert cfg.model.backbone.norm_cfg.type == "GN" and "GroupNorm" in text["model"]
    assert f"{cfg.fpn_channels}-channel" in text["model"]
    assert f"{cfg.model.train_cfg.rpn_proposal.max_per_img} proposals" in text["proposals and sampling"]
    assert f"{cfg.model.train_cfg.rcnn.sampler.num} sampled RoIs" in text["proposals and sampling"]
    hp = f"K_I {dyn.iou_topk}, K_beta {dyn.beta_topk}, C {dyn.update_iter_interval}"
    assert hp in text["hyper-parameters"]
    assert f"{cfg.max_epochs} epochs of {epoch_iters} iterations" in text["schedule"]
    assert f"lr {cfg.optim_wrapper.optimizer.lr:g} at {cfg.train_dataloader.batch_size} images" in text["schedule"]
    assert steps.milestones == [cfg.max_epochs - 1] and "/ 10 for the last epoch" in text["schedule"]
    warmup = cfg.param_scheduler[0]
    assert f"warm-up {warmup.end} iterations from {warmup.start_factor:g} x lr" in text["schedule"]
