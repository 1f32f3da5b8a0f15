"""Detections of saved checkpoints on the val split, with mmengine's test loop (shared by the evaluate and
detect_epochs tools)."""

import copy
import os.path as osp
import uuid


def build_test_runner(cfg, checkpoint, work_dir, max_images=None):
    """An mmengine Runner whose test loop detects on the val split with ``checkpoint``.

    ``CocoMetric`` runs in ``format_only`` mode: it only dumps the COCO result json to ``{work_dir}/dets.bbox.json``
    (the metrics come from our own single COCOeval run).

    Args:
        cfg (mmengine.Config): The run's resolved training config.
        checkpoint (str): Weights to load.
        work_dir (str): Scratch folder of this inference.
        max_images (int, optional): Detect on the first ``max_images`` val images only (0 or None: all).

    Returns:
        tuple[Runner, str]: The runner and the path its test loop writes the detections to.
    """
    from mmengine.runner import Runner

    import dynrcnn.compat  # noqa: F401  mmengine checkpoints under torch >= 2.6
    from dynrcnn.config_text import memoise_config_formatting

    memoise_config_formatting()  # the runner formats its config text several times
    prefix = osp.join(work_dir, "dets")
    cfg = cfg.copy()
    loader = copy.deepcopy(cfg.val_dataloader)
    if max_images:
        loader["dataset"]["indices"] = int(max_images)
    cfg.test_dataloader = loader
    metric = dict(cfg.val_evaluator if not isinstance(cfg.val_evaluator, list) else cfg.val_evaluator[0])
    metric.update(format_only=True, outfile_prefix=prefix)
    cfg.test_evaluator = metric
    cfg.test_cfg = cfg.get("test_cfg") or dict(type="TestLoop")
    cfg.work_dir = work_dir
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.launcher = "none"
    cfg.custom_hooks = []  # training-time hooks (statistics logging) have nothing to do at test time
    # mmengine keeps one logger, message hub and visualizer per name in a process (the experiment's, which ends in the
    # second the runner was made; the visualizer's, fixed by the config): a later runner of this process would get an
    # earlier one's, writing into that runner's deleted scratch folder. One name per runner.
    name = f"detect_{uuid.uuid4().hex[:12]}"
    cfg.experiment_name = name
    if cfg.get("visualizer"):
        cfg.visualizer = dict(cfg.visualizer, name=name)
    return Runner.from_cfg(cfg), f"{prefix}.bbox.json"


def on_load_hook(callback):
    """An mmengine hook that calls ``callback(checkpoint)`` with each checkpoint dict the runner loads (before its
    weights go into the model), so that a caller can read it without loading the file a second time."""
    from mmengine.hooks import Hook

    class OnLoadCheckpoint(Hook):
        def after_load_checkpoint(self, runner, checkpoint):
            callback(checkpoint)

    return OnLoadCheckpoint()


def detect(cfg, checkpoints, work_dir, max_images=None, on_load=None):
    """Detect on the val split with each checkpoint in turn, with one runner.

    Args:
        cfg (mmengine.Config): The run's resolved training config.
        checkpoints (dict): ``{key: checkpoint path}``, detected in this order.
        work_dir (str): Scratch folder of the inference.
        max_images (int, optional): See :func:`build_test_runner`.
        on_load (callable, optional): called with each loaded checkpoint dict, in the order of ``checkpoints``
            (:func:`on_load_hook`).

    Yields:
        tuple: ``(key, path)`` of the COCO result json of each checkpoint; the file is overwritten by the next
        checkpoint's, so copy it before asking for the next.
    """
    runner = dets = None
    for key, path in checkpoints.items():
        if runner is None:
            runner, dets = build_test_runner(cfg, path, work_dir, max_images)
            if on_load is not None:
                runner.register_hook(on_load_hook(on_load))
            runner.test()  # sets the loop up and loads load_from
        else:
            runner.load_checkpoint(path)
            runner.test_loop.run()
        yield key, dets
