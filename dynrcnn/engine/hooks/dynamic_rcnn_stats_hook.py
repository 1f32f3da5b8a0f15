"""Logging and checkpointing of ``AblationRoIHead``'s dynamic state."""

import json
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook, LoggerHook
from mmengine.model import is_model_wrapper

from dynrcnn.models.roi_heads.ablation_roi_head import AblationRoIHead

# Keys written to the MessageHub as ``train/dynrcnn/<name>`` (and to ``vis_data/scalars.json`` as
# ``dynrcnn/<name>``): every iteration's (see the class docstring), and these, only on some iterations.
TRANSIENT_KEYS = ("iou_stat", "beta_stat", "updated_iou_thr", "updated_beta")
#: Checkpoint layout of the dynamic state: one entry per rank (version 1, before multi-process support, held
#: the single process's ``{head name: state}`` directly).
STATE_VERSION = 2
#: Per-rank log of a multi-process training, in the work dir: one JSON line per iteration.
RANK_LOG = "dynrcnn_rank{rank}.jsonl"


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
    statistics, iteration counter) of every rank under ``'dynrcnn_state'``
    (``dict(version=2, ranks=[{head name: state}, ...])``); a resumed training
    gives each rank its own state back before its first iteration. mmengine
    saves on rank 0 only, where no collective call may happen, so the ranks'
    states are gathered before: at every epoch end and at every iteration
    where a ``CheckpointHook(by_epoch=False)`` will save. With
    ``sync_across_ranks`` each rank's pending statistics are its own, so the
    next update counts every record exactly once, as in the uninterrupted
    run. A checkpoint with another number of ranks (or saved where no states
    were gathered) cannot be exact: every rank takes rank 0's threshold, beta
    and iteration counter, and the pending statistics go to rank 0 only when
    ``sync_across_ranks`` is on (one copy), with a warning. A checkpoint
    loaded with ``load_from`` to start a new training (iteration 0) does not
    restore it.

    With several processes each rank also writes the values in force and its
    own statistics of every iteration to ``RANK_LOG`` in the work dir
    (``{"iter": i, "iou_thr": ..., "beta": ..., ...}`` per line; a resumed
    training first drops the lines after its checkpoint), so that the ranks'
    thresholds can be compared (``sync_across_ranks``: equal at every
    iteration).

    Args:
        rank_log (bool | None): Write the per-rank log; None (default) writes
            it when the training has more than one process.
    """

    priority = "NORMAL"  # after RuntimeInfoHook, before LoggerHook and CheckpointHook
    CKPT_KEY = "dynrcnn_state"

    def __init__(self, rank_log: bool | None = None) -> None:
        self._loaded_state: dict | None = None
        self.rank_log = rank_log
        self._rank_log_path: str | None = None
        self._gathered: list[dict] | None = None  # every rank's states, gathered for a checkpoint of this point

    @staticmethod
    def _heads(runner) -> dict[str, AblationRoIHead]:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return {name: module for name, module in model.named_modules() if isinstance(module, AblationRoIHead)}

    def before_train(self, runner) -> None:
        """Restore a resumed run's dynamic state (this rank's); start the
        per-rank log; warn about a log interval that hides updates."""
        heads = self._heads(runner)
        if self._loaded_state is not None and runner.iter > 0:
            own = self._own_state(runner, self._loaded_state, heads)
            for name, head in heads.items():
                head.load_dynamic_state(own.get(name, {}))
            runner.logger.info(
                f"DynamicRCNNStatsHook: restored dynamic state of {sorted(heads)} at iteration {runner.iter}."
            )
        self._loaded_state = None
        self._start_rank_log(runner)
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
            if self._rank_log_path:
                with open(self._rank_log_path, "a") as f:
                    f.write(json.dumps(dict(iter=runner.iter + 1, **{k: float(v) for k, v in log.items()})) + "\n")
            break  # one head per detector: the scalar names carry no index
        if get_world_size() > 1 and self._checkpoint_due_in_iter(runner):
            self._gathered = all_gather_object(self._states(runner))

    def after_train_epoch(self, runner) -> None:
        """Gather every rank's state for the epoch-end checkpoint (several processes)."""
        if get_world_size() > 1:
            self._gathered = all_gather_object(self._states(runner))

    # ------------------------------------------------------------------ checkpoints
    def _states(self, runner) -> dict:
        return {name: head.dynamic_state() for name, head in self._heads(runner).items()}

    @staticmethod
    def _checkpoint_due_in_iter(runner) -> bool:
        """Whether a ``CheckpointHook(by_epoch=False)`` saves after this iteration (its own condition)."""
        return any(
            isinstance(hook, CheckpointHook)
            and not hook.by_epoch
            and (
                hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
                or (hook.save_last and hook.is_last_train_iter(runner))
            )
            for hook in runner.hooks
        )

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        """Drop last iteration's transient scalars so that a logged line
        holds only values of its own iteration; forget gathered states (the
        heads change in the iteration)."""
        self._gathered = None
        scalars = runner.message_hub.log_scalars
        for key in TRANSIENT_KEYS:
            scalars.pop(f"train/dynrcnn/{key}", None)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store every rank's dynamic state in the checkpoint (rank 0 only: mmengine saves there)."""
        if get_world_size() == 1:
            ranks, complete = [self._states(runner)], True
        elif self._gathered is not None:
            ranks, complete = self._gathered, True
        else:  # no collective call possible here: rank 0's own state only
            ranks, complete = [self._states(runner)], False
        checkpoint[self.CKPT_KEY] = dict(version=STATE_VERSION, complete=complete, ranks=ranks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's dynamic state for :meth:`before_train`."""
        self._loaded_state = checkpoint.get(self.CKPT_KEY)

    @staticmethod
    def _own_state(runner, loaded: dict, heads: dict) -> dict:
        """This rank's ``{head name: state}`` from a loaded checkpoint entry (any version)."""
        if loaded.get("version") != STATE_VERSION:  # version 1: one process's state
            ranks, complete = [loaded], True
        else:
            ranks, complete = loaded["ranks"], loaded["complete"]
        world_size, rank = get_world_size(), get_rank()
        if complete and len(ranks) == world_size:
            return ranks[rank]
        runner.logger.warning(
            f"DynamicRCNNStatsHook: the checkpoint holds the dynamic state of {len(ranks)} rank(s)"
            f"{'' if complete else ' (saved inside an epoch)'}, this training has {world_size}: every rank "
            "takes rank 0's threshold and beta, and the training will differ from an uninterrupted run."
        )
        own = {}
        for name, state in ranks[0].items():
            head = heads.get(name)
            sync = bool(head is not None and head.dynamic_cfg and head.dynamic_cfg["sync_across_ranks"])
            if state and sync and rank > 0:  # one copy of the pending statistics across the ranks
                state = dict(state, iou_history=state["iou_history"][:0], beta_history=state["beta_history"][:0])
            own[name] = state
        return own

    # ------------------------------------------------------------------ per-rank log
    def _start_rank_log(self, runner) -> None:
        """Open this rank's log: empty for a new training, cut after the resumed iteration otherwise."""
        enabled = get_world_size() > 1 if self.rank_log is None else self.rank_log
        if not enabled:
            self._rank_log_path = None
            return
        path = osp.join(runner.work_dir, RANK_LOG.format(rank=get_rank()))
        kept = []
        if runner.iter > 0 and osp.exists(path):
            with open(path) as f:
                kept = [line for line in f if line.strip() and json.loads(line)["iter"] <= runner.iter]
        with open(path, "w") as f:
            f.writelines(kept)
        self._rank_log_path = path
