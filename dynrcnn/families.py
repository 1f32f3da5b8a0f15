"""The config families and how far each is from the paper's recipe (standard library only).

This is the one place where each family's deviations from the paper are listed. The paper's recipe is read from
the authors' code (github.com/hkzhang95/DynamicRCNN, ``models/.../dynamic_rcnn_r50_fpn_1x/config.py`` and
``network.py``, maskrcnn-benchmark based); see ``shared/reference/dynamic_rcnn_facts.md``. Three families:

- ``synthetic``: the embedded CPU run on generated shapes; for the pipeline's behaviour, not the paper's numbers.
- ``coco_r50_fpn_1x``: MMDetection's Dynamic R-CNN recipe (``mmdet::dynamic_rcnn/dynamic-rcnn_r50_fpn_1x_coco.py``)
  with the ablation head, the 'mmdet' statistics rule.
- ``coco_r50_fpn_1x_paper``: the authors' recipe as far as MMDetection 3.3 expresses it with its own components,
  the 'official' statistics rule.

Each :class:`Deviation` names the config keys it concerns. :data:`RECIPE_DEVIATIONS` are the MMDetection recipe's
deviations that the paper family removes: the two COCO families' resolved configs differ in exactly those keys (a
test diffs them). :data:`UNMATCHED` are those neither COCO family can remove. The config headers, the README
section "How close to the paper is each family" and the report's preface above every comparison with the paper are
rendered from here (:func:`header_comment`, :func:`readme_table`, :func:`comparison_preface`); tests check that the
first two are what is written in the files.

Usage: ``python -m dynrcnn.families header FAMILY`` prints a config header's deviation block,
``python -m dynrcnn.families readme`` the README tables, ``python -m dynrcnn.families preface FAMILY`` the report's
statement; ``python -m dynrcnn.families update`` rewrites the headers and the README tables after a change here.
"""

import argparse
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

#: The two statistics rules of ``AblationRoIHead`` (``model.train_cfg.rcnn.dynamic_rcnn.statistics``).
STATISTICS_RULES = {
    "mmdet": "MMDetection's DynamicRoIHead",
    "official": "the authors' code",
}


@dataclass(frozen=True)
class Deviation:
    """One way a family's recipe differs from the paper's (the authors' code).

    Args:
        setting (str): what differs, a few words.
        ours (str): what the family does.
        paper (str): what the authors' code does.
        keys (tuple[str, ...]): dotted config key prefixes (lists indexed, e.g. ``param_scheduler.0``) whose
            values carry the difference in the family's resolved configs; empty for a difference no config key
            expresses.
        effect (str): expected direction of its effect on AP, if known.
    """

    setting: str
    ours: str
    paper: str
    keys: tuple = ()
    effect: str = ""

    def line(self) -> str:
        """str: one line, ``setting: ours (paper: ...)``."""
        return f"{self.setting}: {self.ours} (paper: {self.paper})"


@dataclass(frozen=True)
class Family:
    """A config family: ``configs/{name}/{baseline,dla,dsl,dynamic_rcnn}.py``.

    Args:
        name (str): folder under ``configs/``.
        dataset (str): the dataset it is made for (``synthetic`` or ``coco``).
        statistics (str): its statistics rule (a key of :data:`STATISTICS_RULES`).
        summary (str): one sentence on what it is.
        deviations (tuple[Deviation, ...]): how its recipe differs from the paper's.
        schedule (str): ``epoch`` (``EpochBasedTrainLoop``: ``train.max_epochs`` and per-epoch detections apply)
            or ``iteration`` (``IterBasedTrainLoop``: neither does).
    """

    name: str
    dataset: str
    statistics: str
    summary: str
    deviations: tuple
    schedule: str = "epoch"


#: The MMDetection recipe's deviations from the authors' code that the paper family removes. The two COCO
#: families' resolved configs differ in exactly the keys listed here.
RECIPE_DEVIATIONS = (
    Deviation(
        "statistics rule",
        "'mmdet' (MMDetection's DynamicRoIHead: per-image statistics, IoU threshold 0.5 until the first update)",
        "'official' (batch statistics over all proposals, threshold 0.4 from the first iteration)",
        keys=("model.train_cfg.rcnn.dynamic_rcnn.statistics",),
        effect="changes the threshold and beta trajectories; direction on AP not known",
    ),
    Deviation(
        "warm-up",
        "linear over 500 iterations from 0.001 x lr",
        "linear over 500 iterations from 1/3 x lr",
        keys=("param_scheduler.0.start_factor",),
        effect="negligible expected (500 of about 90k iterations)",
    ),
    Deviation(
        "schedule",
        "12 epochs (about 88k iterations of 16 images on train2017), lr steps after epochs 8 and 11, validation "
        "and checkpoint every epoch",
        "90k iterations, steps at 60k and 80k",
        keys=("train_cfg", "param_scheduler.1", "default_hooks.checkpoint", "log_processor.by_epoch"),
        effect="the paper's run is about 2k iterations longer, mostly at the last lr: equal or slightly higher AP "
        "expected",
    ),
    Deviation(
        "backbone",
        "torchvision-style ResNet-50 (stride in the 3x3 conv, torchvision://resnet50 weights, BN affine "
        "parameters trained), RGB input normalised with ImageNet mean and std",
        "Caffe2-style (MSRA) ResNet-50 (stride in the 1x1 conv, R-50.pkl weights, BN frozen), BGR input minus "
        "[102.9801, 115.9465, 122.7717], std 1",
        keys=(
            "model.backbone.style",
            "model.backbone.norm_cfg.requires_grad",
            "model.backbone.init_cfg.checkpoint",
            "model.data_preprocessor.mean",
            "model.data_preprocessor.std",
            "model.data_preprocessor.bgr_to_rgb",
        ),
        effect="MMDetection's model zoo lists the caffe-style Faster R-CNN R-50-FPN 1x a few tenths of AP above "
        "the torchvision-style one (recalled, unverified)",
    ),
    Deviation(
        "RPN box loss",
        "L1",
        "SmoothL1 with beta 1/9",
        keys=("model.rpn_head.loss_bbox",),
        effect="small; direction not known",
    ),
    Deviation(
        "bias lr and decay",
        "biases at the base lr and weight decay 1e-4",
        "biases at 2 x lr and weight decay 0",
        keys=("optim_wrapper.paramwise_cfg",),
        effect="small; direction not known",
    ),
    Deviation(
        "RPN anchors at the border",
        "every anchor trains the RPN (allowed_border -1)",
        "anchors crossing the image border are ignored (STRADDLE_THRESH 0)",
        keys=("model.train_cfg.rpn.allowed_border",),
        effect="small; direction not known",
    ),
    Deviation(
        "RPN low-quality matches",
        "a ground truth's best anchor is positive only if its IoU is at least 0.3",
        "at any IoU",
        keys=("model.train_cfg.rpn.assigner.min_pos_iou",),
        effect="the paper's gives objects under about 18 px (at the training scale) a positive anchor: APS equal "
        "or slightly higher expected",
    ),
    Deviation(
        "RoIAlign",
        "aligned (half-pixel shift), adaptive sampling (sampling_ratio 0)",
        "legacy unaligned, 2 x 2 samples per bin",
        keys=(
            "model.roi_head.bbox_roi_extractor.roi_layer.aligned",
            "model.roi_head.bbox_roi_extractor.roi_layer.sampling_ratio",
        ),
        effect="negligible expected (Detectron2: alignment makes no difference with conv layers after RoIAlign)",
    ),
    Deviation(
        "initialisation",
        "Xavier-uniform FPN convs and box-head FCs",
        "Kaiming-uniform (a = 1), zero biases",
        keys=("model.neck.init_cfg", "model.roi_head.bbox_head.init_cfg"),
        effect="negligible expected",
    ),
)

#: Deviations from the authors' code that neither COCO family removes (MMDetection 3.3 cannot express them with its
#: own components, or the project's head differs).
UNMATCHED = (
    Deviation(
        "+1 pixel box convention",
        "width = x2 - x1 in IoUs, box encoding, NMS, anchors and the exported detections; anchors centred on the "
        "grid, not quantised",
        "width = x2 - x1 + 1 throughout; Detectron's quantised anchors",
        effect="small, direction not known (Detectron2 calls its effect on NMS very negligible); it also shifts "
        "every IoU and regression target the 'official' statistics read",
    ),
    Deviation(
        "RPN proposals per batch",
        "the top 1000 proposals of each image",
        "the top 2000 of each two-image batch (FPN_POST_NMS_PER_BATCH)",
        effect="same count on average; the 'official' statistics rank the batch's proposals, so their pool "
        "differs when one image has most of the confident proposals; direction not known",
    ),
    Deviation(
        "beta guard",
        "a median below 1e-15 keeps the previous beta (both statistics rules)",
        "no guard",
        effect="none unless an interval's median is 0 (then the authors' code would train with beta 0)",
    ),
)

_SYNTHETIC_DEVIATIONS = (
    Deviation("dataset", "generated shapes (5 classes, 128 px images), CPU", "COCO 2017, 8 GPUs x 2 images"),
    Deviation(
        "model",
        "ResNet-18 at base width 16 with GroupNorm from scratch, 64-channel 4-level FPN",
        "ImageNet-pretrained ResNet-50, 256-channel FPN",
    ),
    Deviation(
        "proposals and sampling",
        "200 proposals and 64 sampled RoIs per image",
        "1000 proposals (2000 per two-image batch), 512 sampled RoIs",
    ),
    Deviation("hyper-parameters", "K_I 15, K_beta 6, C 10 (scaled to the above)", "K_I 75, K_beta 10, C 100"),
    Deviation(
        "schedule",
        "3 epochs of 150 iterations, lr 0.02 at 4 images, / 10 for the last epoch, warm-up 50 iterations from "
        "0.01 x lr, gradient clipping",
        "90k iterations at 16 images, lr 0.02",
    ),
    Deviation(
        "MMDetection recipe",
        "also its deviations that apply here: torchvision-style ResNet, L1 RPN box loss, no bias lr/decay rule, "
        "aligned RoIAlign, 'mmdet' statistics rule, no +1 convention",
        "the authors' code",
    ),
)

#: Every config family, by name.
FAMILIES = {
    "synthetic": Family(
        "synthetic",
        "synthetic",
        "mmdet",
        "a small Faster R-CNN trained on generated shapes on a CPU: for the pipeline's behaviour, not evidence for "
        "or against the paper",
        _SYNTHETIC_DEVIATIONS,
    ),
    "coco_r50_fpn_1x": Family(
        "coco_r50_fpn_1x",
        "coco",
        "mmdet",
        "MMDetection's Dynamic R-CNN R-50-FPN 1x recipe with the ablation head",
        RECIPE_DEVIATIONS + UNMATCHED,
    ),
    "coco_r50_fpn_1x_paper": Family(
        "coco_r50_fpn_1x_paper",
        "coco",
        "official",
        "the authors' R-50-FPN 1x recipe as far as MMDetection 3.3 expresses it",
        UNMATCHED,
        schedule="iteration",
    ),
}

#: The dataset each family is made for.
FAMILY_DATASETS = {name: family.dataset for name, family in FAMILIES.items()}


def families_of(dataset: str) -> list:
    """The families made for ``dataset``, in :data:`FAMILIES` order."""
    return [name for name, made_for in FAMILY_DATASETS.items() if made_for == dataset]


def family(name: str) -> Family:
    """The family called ``name``.

    Raises:
        KeyError: for an unknown name, listing the known ones.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown config family {name!r}; known: {', '.join(FAMILIES)}") from None


#: Width of the config header's comment lines.
HEADER_WIDTH = 118


def header_comment(name: str) -> str:
    """The deviation block of ``configs/{name}/_base_.py``'s header, one item per deviation (wrapped).

    Returns:
        str: comment lines ending with a newline.
    """
    fam = family(name)
    lines = [f"# Deviations from the paper (the authors' code), from dynrcnn/families.py ({len(fam.deviations)}):"]
    for d in fam.deviations:
        lines += textwrap.wrap(d.line(), width=HEADER_WIDTH, initial_indent="#   - ", subsequent_indent="#     ")
    return "\n".join(lines) + "\n"


def comparison_preface(name: str) -> list:
    """What the report states above every table that compares a family's runs with the paper's numbers.

    Returns:
        list[str]: the family and its statistics rule, then one line per deviation from the paper.
    """
    fam = family(name)
    lines = [
        f"Family: {fam.name} ({fam.summary}); statistics rule: '{fam.statistics}' "
        f"({STATISTICS_RULES[fam.statistics]}). Its deviations from the paper's recipe ({len(fam.deviations)}):"
    ]
    lines += [f"{i}. {d.line()}; effect: {d.effect or 'not known'}." for i, d in enumerate(fam.deviations, 1)]
    return lines


def readme_table() -> str:
    """The two Markdown tables of the README section "How close to the paper is each family".

    The first lists the families (dataset, statistics rule, number of deviations); the second has one row per
    deviation of the MMDetection recipe or unmatched by both COCO families, with what each COCO family does.

    Returns:
        str: the tables, separated by a blank line, ending with a newline.
    """
    rows = [
        "| family | dataset | statistics rule | what it is | deviations from the paper |",
        "|---|---|---|---|---|",
    ]
    for fam in FAMILIES.values():
        rows.append(f"| `{fam.name}` | {fam.dataset} | '{fam.statistics}' | {fam.summary} | {len(fam.deviations)} |")
    coco, paper = FAMILIES["coco_r50_fpn_1x"], FAMILIES["coco_r50_fpn_1x_paper"]
    rows += [
        "",
        "| setting | the authors' code | `coco_r50_fpn_1x` | `coco_r50_fpn_1x_paper` | expected effect |",
        "|---|---|---|---|---|",
    ]
    for d in coco.deviations:
        paper_does = d.ours if d in paper.deviations else "as the authors' code"
        rows.append(f"| {d.setting} | {d.paper} | {d.ours} | {paper_does} | {d.effect or 'not known'} |")
    return "\n".join(rows) + "\n"


_HEADER_BLOCK = re.compile(r"# Deviations from the paper \(the authors' code\).*\n(?:#   - .*\n|#     .*\n)*")


def update_files(repo) -> list:
    """Rewrite the rendered texts in place: the COCO families' header blocks and the README tables.

    Args:
        repo (str | Path): the repository root.

    Returns:
        list[Path]: the files changed.
    """
    repo = Path(repo)
    changed = []
    for name, fam in FAMILIES.items():
        path = repo / "configs" / name / "_base_.py"
        if fam.dataset != "coco":
            continue
        text = path.read_text()
        if not _HEADER_BLOCK.search(text):
            raise ValueError(f"{path} has no deviation block to replace")
        new = _HEADER_BLOCK.sub(lambda _m, name=name: header_comment(name), text, count=1)
        if new != text:
            path.write_text(new)
            changed.append(path)
    path = repo / "README.md"
    text = path.read_text()
    start = text.index("| family | dataset | statistics rule |")
    end = text.index("\n\n", text.index("| setting | the authors' code |", start)) + 1
    new = text[:start] + readme_table() + text[end:]
    if new != text:
        path.write_text(new)
        changed.append(path)
    return changed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dynrcnn.families", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("header", "readme", "preface", "update"))
    parser.add_argument("family", nargs="?", choices=tuple(FAMILIES))
    args = parser.parse_args(argv)
    if args.what == "readme":
        print(readme_table(), end="")
    elif args.what == "update":
        for path in update_files(Path(__file__).resolve().parents[1]):
            print(f"updated {path}")
    elif args.family is None:
        parser.error(f"{args.what} needs a family")
    elif args.what == "header":
        print(header_comment(args.family), end="")
    else:
        print("\n".join(comparison_preface(args.family)))


if __name__ == "__main__":
    main()
