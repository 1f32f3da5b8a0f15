"""The settings of Dynamic R-CNN in a detector config (``model.train_cfg.rcnn.dynamic_rcnn``) and their checker.

Standard library only: ``AblationRoIHead`` checks its config with :func:`check_dynamic_cfg` when it is built, and
the pipeline (:mod:`dynrcnn.pipeline`) checks ``train.cfg_options`` values with the same function while the DAG is
built, without importing torch.
"""

import math

#: Where the settings live in a detector config (the one name of this location).
DYNAMIC_RCNN_KEY = "model.train_cfg.rcnn.dynamic_rcnn"

#: Every setting and its default: the paper's and MMDetection's COCO values (K_I 75, K_beta 10, C 100, initial IoU
#: threshold 0.4 and beta 1.0). A config spells only what it changes (configs/coco_r50_fpn_1x/_base_.py none).
DEFAULTS = dict(
    iou_topk=75,
    beta_topk=10,
    update_iter_interval=100,
    initial_iou=0.4,
    initial_beta=1.0,
    dynamic_label=True,
    dynamic_loss=True,
    statistics="mmdet",
    sync_across_ranks=False,
)

#: The two semantics of the statistics: MMDetection's DynamicRoIHead, the authors' code.
STATISTICS = ("mmdet", "official")


def check_dynamic_cfg(cfg) -> dict:
    """Fill defaults into the ``dynamic_rcnn`` block (:data:`DYNAMIC_RCNN_KEY`) and validate it.

    Args:
        cfg (dict | None): The ``dynamic_rcnn`` section of the R-CNN train config.

    Returns:
        dict: All settings, defaults filled in.

    Raises:
        ValueError: For a missing section, an unknown key or a bad value; the message names the full config key.
    """
    if cfg is None:
        raise ValueError(
            f"AblationRoIHead needs `{DYNAMIC_RCNN_KEY}` in the model config (keys: "
            f"{', '.join(DEFAULTS)}); use StandardRoIHead for a detector "
            "without it."
        )
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown key(s) {unknown} in `{DYNAMIC_RCNN_KEY}`; valid keys are {list(DEFAULTS)}.")
    out = {**DEFAULTS, **dict(cfg)}

    def fail(key, expected):
        raise ValueError(f"`{DYNAMIC_RCNN_KEY}.{key}` must be {expected}, got {out[key]!r}.")

    for key in ("iou_topk", "beta_topk"):
        if not _is_int(out[key]) or out[key] <= 0:
            fail(key, "a positive integer")
    if not _is_int(out["update_iter_interval"]) or out["update_iter_interval"] < 1:
        fail("update_iter_interval", "an integer >= 1")
    if not _is_real(out["initial_iou"]) or not 0 < out["initial_iou"] < 1:
        fail("initial_iou", "a number in the open interval (0, 1)")
    if not _is_real(out["initial_beta"]) or not out["initial_beta"] > 0 or not math.isfinite(out["initial_beta"]):
        fail("initial_beta", "a finite number > 0")
    for key in ("dynamic_label", "dynamic_loss", "sync_across_ranks"):
        if not isinstance(out[key], bool):
            fail(key, "True or False")
    if out["statistics"] not in STATISTICS:
        fail("statistics", f"one of {STATISTICS}")
    return out


def settings_of(cfg):
    """The Dynamic R-CNN settings of a detector config, defaults filled (not validated).

    Args:
        cfg (dict | mmengine.Config): a whole detector config.

    Returns:
        dict | None: every key of :data:`DEFAULTS`; None when the config has no :data:`DYNAMIC_RCNN_KEY` block.
    """
    block = cfg
    for key in DYNAMIC_RCNN_KEY.split("."):
        block = block.get(key) if hasattr(block, "get") else None
    return None if block is None else {**DEFAULTS, **dict(block)}


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
