"""The wall time of a training over all its attempts (a killed training resumes)."""

import time

from mmdet.registry import HOOKS
from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from dynrcnn.run_folder import read_wall_time, write_wall_time


@HOOKS.register_module()
class RunWallTimeHook(Hook):
    """Adds up the wall time of every attempt of a training in the work dir's ``wall_time.json``.

    The file is rewritten (atomically, by the main process) after each epoch and at the end of the training, with
    the time of the earlier attempts (read from the file when the training starts) plus this one's, so a resumed
    training reports the time of all its attempts. :func:`dynrcnn.run_folder.finalize` records it in the run's
    ``train_manifest.json``.
    """

    priority = "LOWEST"

    def before_train(self, runner) -> None:
        self._start = time.time()
        self._previous = read_wall_time(runner.work_dir, missing=0.0)

    def _save(self, runner) -> None:
        if is_main_process():
            write_wall_time(runner.work_dir, self._previous + time.time() - self._start)

    def after_train_epoch(self, runner) -> None:
        self._save(runner)

    def after_train(self, runner) -> None:
        self._save(runner)
