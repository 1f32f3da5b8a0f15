"""The acceptance check's short schedule: an epoch-based training stopped after its first N iterations."""

import math

from mmdet.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop


@LOOPS.register_module()
class ShortEpochTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` that ends after ``max_iters`` iterations, in the middle of an epoch if need be, so
    that a short check trains exactly the first iterations of the full schedule (learning-rate warm-up, data order
    and dynamic updates as in the full run). Epoch-end hooks (checkpoint) run after the last iteration.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The training dataloader.
        max_epochs (int): The full schedule's epochs (the loop stops at whichever limit comes first).
        max_iters (int): Iterations to train.
        val_begin (int): First epoch that validates (``EpochBasedTrainLoop``'s; a large value skips validation).
        val_interval (int): Validation interval in epochs.
        dynamic_intervals (list, optional): As ``EpochBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, max_epochs, max_iters, val_begin=1, val_interval=1, dynamic_intervals=None):
        super().__init__(runner, dataloader, max_epochs, val_begin, val_interval, dynamic_intervals)
        if int(max_iters) < 1:
            raise ValueError(f"train_cfg.max_iters must be >= 1, got {max_iters}")
        per_epoch = len(self.dataloader)
        self._max_epochs = min(self._max_epochs, math.ceil(int(max_iters) / per_epoch))
        self._max_iters = min(self._max_epochs * per_epoch, int(max_iters))

    def run_epoch(self) -> None:
        """One epoch, or its first iterations up to ``max_iters``."""
        self.runner.call_hook("before_train_epoch")
        self.runner.model.train()
        for idx, data_batch in enumerate(self.dataloader):
            if self._iter >= self._max_iters:
                break
            self.run_iter(idx, data_batch)
        self.runner.call_hook("after_train_epoch")
        self._epoch += 1
