"""What a tracked training logs besides mmengine's scalars: its provenance and per-epoch sample detections."""

import json

import torch
from mmdet.registry import HOOKS
from mmengine.dataset import pseudo_collate
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class TrackingHook(Hook):
    """Provenance and sample pictures for the tracking backends (added by :func:`dynrcnn.tracking.setup` only).

    The losses, learning rate, ``dynrcnn/*`` series and validation metrics reach the backends through mmengine's
    ``LoggerHook`` (the lines of ``scalars.json``). This hook adds:

    * before training, the run's provenance as the TensorBoard text ``provenance`` (W&B gets it in its run config
      when it starts);
    * after every training epoch, the first ``sample_images`` validation images drawn with the model's detections
      (left: ground truth, right: detections above ``score_thr``) as the images ``samples/{file name}`` at step
      ``epoch``, through the visualizer (so also ``vis_data/vis_image/`` of the attempt's log folder).

    The pictures are drawn by the main process in eval mode, without gradients, with the random-number states saved
    and restored around them: the training is the same with and without them.

    Args:
        provenance (dict): what :func:`dynrcnn.tracking.provenance` recorded.
        sample_images (int): validation images drawn per epoch (0: none).
        score_thr (float): lowest score of a drawn detection.
    """

    priority = "LOW"

    def __init__(self, provenance: dict | None = None, sample_images: int = 4, score_thr: float = 0.3):
        self.provenance = dict(provenance or {})
        self.sample_images = int(sample_images)
        self.score_thr = float(score_thr)

    def _tensorboard(self, runner):
        """The visualizer's fail-safe TensorBoard backend (None without one)."""
        backend = runner.visualizer.get_backend("tensorboard")
        return backend if hasattr(backend, "guarded") else None

    def before_train(self, runner) -> None:
        tensorboard = self._tensorboard(runner) if is_main_process() else None
        if tensorboard is not None:
            text = "    " + json.dumps(self.provenance, indent=2, sort_keys=True).replace("\n", "\n    ")
            tensorboard.guarded(lambda tb: tb.experiment.add_text("provenance", text, global_step=runner.iter))

    def after_train_epoch(self, runner) -> None:
        """Draw the sample pictures, then flush the TensorBoard events (this hook runs before the CheckpointHook:
        a training killed later and resumed from this checkpoint has every event up to it on disk)."""
        if not is_main_process():
            return
        if self.sample_images > 0:
            self._draw_samples(runner)
        tensorboard = self._tensorboard(runner)
        if tensorboard is not None:
            tensorboard.guarded(lambda tb: tb.experiment.flush())

    def _draw_samples(self, runner) -> None:
        try:
            dataset = runner.val_loop.dataloader.dataset
        except (AttributeError, RuntimeError, TypeError):
            runner.logger.info("TrackingHook: no validation loop, no sample pictures")
            self.sample_images = 0
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        was_training = model.training
        cpu_rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        try:
            model.eval()
            with torch.no_grad():
                for index in range(min(self.sample_images, len(dataset))):
                    self._draw(runner, model, dataset[index])
        finally:
            model.train(was_training)
            torch.set_rng_state(cpu_rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state_all(cuda_rng)

    def _draw(self, runner, model, item) -> None:
        import os.path as osp

        import mmcv

        (prediction,) = model.test_step(pseudo_collate([item]))
        path = prediction.img_path
        image = mmcv.imread(path, channel_order="rgb")
        runner.visualizer.add_datasample(
            f"samples/{osp.basename(path)}",
            image,
            data_sample=prediction.cpu(),
            draw_gt=True,
            pred_score_thr=self.score_thr,
            step=runner.epoch + 1,  # the epoch just trained (runner.epoch counts from 0 until it ends)
        )
