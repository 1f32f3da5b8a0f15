"""Logging and checkpointing of ``AblationRoIHead``'s dynamic state."""

import torch
from mmdet.registry import HOOKS
from mmengine.hooks import Hook, LoggerHook
from mmengine.model import is_model_wrapper

from dynrcnn.models.roi_heads.ablation_roi_head import AblationRoIHead

# Keys written to the MessageHub as ``train/dynrcnn/<name>`` (and to
# ``vis_data/scalars.json`` as ``dynrcnn/<name>``).
PER_ITER_KEYS = ("iou_thr", "beta", "pos_per_img")
TRANSIENT_KEYS = ("iou_stat", "beta_stat", "updated_iou_thr", "updated_beta")


@HOOKS.register_module()
class DynamicRCNNStatsHook(Hook):
    """Logs the Dynamic R-CNN values of every training iteration and keeps
    the dynamic state in checkpoints.

    Scalars (MessageHub keys ``train/dynrcnn/...``; mmengine's LogProcessor
    writes them to ``vis_data/scalars.json`` as ``dynrcnn/...``):

    - ``iou_thr``, ``beta``: the values in force in the iteration (constant
      when the component is off), ``pos_per_img``: sampled positives per
      image. Logged every iteration.
    - ``iou_stat``, ``beta_stat``: the iteration's raw statistics, present
      only when the component is on and the statistic exists (e.g. no
      ``beta_stat`` in an iteration without positives).
    - ``updated_iou_thr``, ``updated_beta``: the new values, present only on
      update iterations.

    LogProcessor smooths only keys matching its ``mean_pattern`` (loss, time,
    grad_norm): these keys are reported as the value of the logged iteration.
    With ``LoggerHook(interval=N)`` only every N-th iteration is written;
    choose N dividing ``update_iter_interval`` to log every update.

    The head keeps the statistics as device tensors; this hook reads them in
    ``after_train_iter`` (after mmengine has read the losses) with a single
    transfer, never during the forward pass.

    Checkpoints get the head's dynamic state (thresholds, beta, pending
    statistics, iteration counter) under ``'dynrcnn_state'``; a resumed
    training restores it before its first iteration. A checkpoint loaded with
    ``load_from`` to start a new training (iteration 0) does not restore it.
    """

    priority = "NORMAL"  # after RuntimeInfoHook, before LoggerHook
    CKPT_KEY = "dynrcnn_state"

    def __init__(self) -> None:
        self._loaded_state: dict | None = None

    @staticmethod
    def _heads(runner) -> dict[str, AblationRoIHead]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return {name: module for name, module in model.named_modules() if isinstance(module, AblationRoIHead)}

    def before_train(self, runner) -> None:
        """Restore a resumed run's dynamic state; warn about a log interval
        that hides updates."""
        heads = self._heads(runner)
        if self._loaded_state is not None and runner.iter > 0:
            for name, head in heads.items():
                head.load_dynamic_state(self._loaded_state.get(name, {}))
            runner.logger.info(
                f"DynamicRCNNStatsHook: restored dynamic state of {sorted(heads)} at iteration {runner.iter}."
            )
        self._loaded_state = None
        for hook in runner.hooks:
            if not isinstance(hook, LoggerHook):
                continue
            for head in heads.values():
                cfg = head.dynamic_cfg
                if head.dynamic_enabled and cfg["update_iter_interval"] % hook.interval:
                    runner.logger.warning(
                        f"LoggerHook interval {hook.interval} does not "
                        "divide train_cfg.rcnn.dynamic_rcnn."
                        f"update_iter_interval {cfg['update_iter_interval']}"
                        ": some updates will not appear in the scalar log."
                    )

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Drop last iteration's transient scalars so that a logged line
        holds only values of its own iteration."""
        scalars = runner.message_hub.log_scalars
        for key in TRANSIENT_KEYS:
            scalars.pop(f"train/dynrcnn/{key}", None)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        """Push the iteration's values to the MessageHub."""
        for head in self._heads(runner).values():
            log, head.last_log = head.last_log, {}
            if not log:
                continue
            names = [k for k, v in log.items() if isinstance(v, torch.Tensor)]
            if names:
                # One device-to-host transfer for all raw statistics.
                values = torch.stack([log[k].detach().double() for k in names]).tolist()
                log.update(zip(names, values))
            for key, value in log.items():
                runner.message_hub.update_scalar(f"train/dynrcnn/{key}", float(value))
            break  # one head per detector: the scalar names carry no index

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the heads' dynamic state in the checkpoint."""
        checkpoint[self.CKPT_KEY] = {name: head.dynamic_state() for name, head in self._heads(runner).items()}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's dynamic state for :meth:`before_train`."""
        self._loaded_state = checkpoint.get(self.CKPT_KEY)
