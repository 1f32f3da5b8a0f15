"""Random-number state in checkpoints, so that a resumed training is the run it replaces.

mmengine checkpoints keep the weights, optimizer, schedulers and MessageHub, but no random-number state: a training
resumed from ``epoch_k.pth`` re-seeds Python ``random``, numpy and torch and so draws other proposal samples
(mmdet's ``RandomSampler``, torch RNG) and other augmentations (``RandomFlip``, numpy RNG) than the uninterrupted
run did after epoch k. :class:`RandomStateHook` stores those states in every checkpoint and restores them, and
:func:`epoch_seeded_worker_init_fn` seeds data-loader workers per epoch from the (restored) torch RNG.
"""

import os
import random

import numpy as np
import torch
from mmdet.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size, is_distributed
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import FUNCTIONS
from mmengine.runner import EpochBasedTrainLoop

STATE_VERSION = 1


def capture_random_state() -> dict:
    """This process's random-number states: Python ``random``, numpy's global RNG, torch CPU and (when available)
    the current CUDA device.

    Only plain Python values and CPU tensors, so the checkpoint stays loadable with ``torch.load(weights_only=True)``.
    """
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(
            kind=kind,
            keys=[int(k) for k in keys],
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian),
        ),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_random_state(state: dict) -> None:
    """Set this process's random-number states to ``state`` (from :func:`capture_random_state`).

    Tensors may come back on a GPU (mmengine resumes with ``map_location`` = the device): the RNG setters need CPU
    byte tensors.
    """
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np.asarray(np_state["keys"], dtype=np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"].cpu())


def _rank() -> int:
    if is_distributed():
        return get_rank()
    return int(os.environ.get("RANK", "0"))  # a spawned worker: the launcher's variable


@FUNCTIONS.register_module()
def epoch_seeded_worker_init_fn(worker_id: int) -> None:
    """Seed a data-loader worker from its epoch and rank (``train_dataloader.worker_init_fn``).

    mmengine's default ``worker_init_fn`` seeds worker ``w`` of rank ``r`` with ``seed + num_workers * r + w`` in
    every epoch: each epoch repeats the same random augmentation stream. PyTorch instead gives each worker
    ``base_seed + worker_id``, with ``base_seed`` drawn from the main process's torch RNG whenever an iterator is
    created (each epoch unless ``persistent_workers``), but that is the same on every rank (mmengine seeds all ranks
    alike). This function seeds Python ``random``, numpy and torch from (PyTorch's worker seed, rank): different in
    every epoch, worker and rank, and a function of the main torch RNG state, which :class:`RandomStateHook`
    restores on resume. Needs ``persistent_workers=False`` (persistent workers are seeded once, and a resumed run
    would restart their streams).

    Args:
        worker_id (int): The worker's index, as passed by ``DataLoader``.
    """
    info = torch.utils.data.get_worker_info()
    base = info.seed if info is not None else torch.initial_seed()
    words = np.random.SeedSequence([base, _rank()]).generate_state(4, dtype=np.uint32)
    np.random.seed(int(words[0]))
    random.seed(int(words[1]))
    torch.manual_seed((int(words[2]) << 32) | int(words[3]))


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed training bit-identical to the uninterrupted run: random-number states in checkpoints.

    * At the end of every training epoch each rank captures its states (Python ``random``, numpy, torch CPU and
      the current CUDA device); with several ranks they are gathered to every rank (``all_gather_object``; mmengine
      saves checkpoints on rank 0 only, inside ``save_checkpoint``, where no collective call may happen).
    * Rank 0 writes them into the checkpoint saved at that epoch end under ``'random_state'``: one entry per rank.
    * The next epoch starts from the captured states, in the uninterrupted run as in a resumed one: whatever
      consumes random numbers between two epochs (a validation, the runner's own setup on resume: weight init,
      re-seeding, building loaders) does not change the training's stream.
    * On resume each rank takes its own entry. Resuming with another number of ranks, or from a checkpoint without
      states, or from one saved inside an epoch (``CheckpointHook(by_epoch=False)``; ``EpochBasedTrainLoop``
      restarts the epoch), cannot be exact: a warning says so and the run goes on from the seeded states.

    The samplers need nothing: ``DefaultSampler`` shuffles with ``seed + epoch``, which mmengine restores.
    Data-loader workers need ``persistent_workers=False`` and :func:`epoch_seeded_worker_init_fn` (the hook warns
    otherwise). Supported loop: ``EpochBasedTrainLoop`` (an ``IterBasedTrainLoop`` resumes by running the pipeline
    over the skipped batches, which consumes random numbers the uninterrupted run drew elsewhere).
    """

    # after_train_epoch before CheckpointHook (VERY_LOW) so the states are ready when it saves
    priority = "LOW"
    CKPT_KEY = "random_state"

    def __init__(self) -> None:
        self._epoch_states: list[dict] | None = None  # every rank's states at the last epoch end
        self._at_epoch_end = False
        self._pending: dict | None = None  # this rank's states for the next epoch start
        self._loaded: dict | None = None

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_setup(runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, EpochBasedTrainLoop):
            runner.logger.warning(
                f"RandomStateHook: {type(loop).__name__} is not an EpochBasedTrainLoop: a resumed "
                "training will not repeat the uninterrupted one exactly."
            )
        for hook in runner.hooks:
            if isinstance(hook, CheckpointHook) and not hook.by_epoch:
                runner.logger.warning(
                    "RandomStateHook: CheckpointHook(by_epoch=False) saves inside epochs; only a "
                    "resume from an epoch-end checkpoint repeats the uninterrupted run exactly."
                )
        loader = loop.dataloader
        if loader.num_workers > 0:
            if loader.persistent_workers:
                runner.logger.warning(
                    "RandomStateHook: train_dataloader.persistent_workers=True: the workers are "
                    "seeded once per training, and a resumed training restarts their random "
                    "streams; set persistent_workers=False for an exact resume."
                )
            init_fn = getattr(loader.worker_init_fn, "func", loader.worker_init_fn)
            if init_fn is not epoch_seeded_worker_init_fn:
                runner.logger.warning(
                    "RandomStateHook: train_dataloader.worker_init_fn is not "
                    "dict(type='epoch_seeded_worker_init_fn'): workers may repeat the same "
                    "random stream in every epoch."
                )

    # ------------------------------------------------------------------ training
    def before_train(self, runner) -> None:
        """Check the setup; on resume, pick this rank's states from the loaded checkpoint."""
        self._check_setup(runner)
        loaded, self._loaded = self._loaded, None
        if runner.iter == 0:
            return  # a fresh training (a ``load_from`` checkpoint's states are not for this run)
        if loaded is None:
            runner.logger.warning(
                "RandomStateHook: the resumed checkpoint has no random-number states (saved "
                "without this hook): the training goes on from the seeded states and will "
                "differ from an uninterrupted run."
            )
            return
        if not loaded.get("epoch_end", False):
            runner.logger.warning(
                "RandomStateHook: the resumed checkpoint was saved inside an epoch: the training "
                "goes on from the seeded states and will differ from an uninterrupted run."
            )
            return
        ranks = loaded["ranks"]
        world_size = get_world_size()
        if len(ranks) != world_size:
            runner.logger.warning(
                f"RandomStateHook: the checkpoint holds the random-number states of "
                f"{len(ranks)} rank(s), this training has {world_size}: the training goes on "
                "from the seeded states and will differ from an uninterrupted run."
            )
            return
        self._pending = ranks[get_rank()]
        runner.logger.info(
            f"RandomStateHook: restoring the random-number states of iteration {runner.iter} "
            "at the start of the resumed epoch."
        )

    def before_train_epoch(self, runner) -> None:
        """Start the epoch from the states captured at the end of the previous one (resumed or not)."""
        if self._pending is not None:
            restore_random_state(self._pending)
            self._pending = None

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._at_epoch_end = False

    def after_train_epoch(self, runner) -> None:
        """Capture (and with several ranks gather) the states for the checkpoint and the next epoch."""
        own = capture_random_state()
        self._pending = own
        self._epoch_states = all_gather_object(own) if get_world_size() > 1 else [own]
        self._at_epoch_end = True

    # ------------------------------------------------------------------ checkpoints
    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write every rank's states into the checkpoint (rank 0 only: mmengine saves there)."""
        if self._at_epoch_end and self._epoch_states is not None:
            ranks, epoch_end = self._epoch_states, True
        else:  # inside an epoch: no collective call possible here, rank 0's own states only
            ranks, epoch_end = [capture_random_state()], False
        checkpoint[self.CKPT_KEY] = dict(version=STATE_VERSION, epoch_end=epoch_end, ranks=ranks)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's states for :meth:`before_train` (applied only when resuming)."""
        self._loaded = checkpoint.get(self.CKPT_KEY)
        if self._loaded is not None and self._loaded.get("version") != STATE_VERSION:
            runner.logger.warning(
                f"RandomStateHook: unknown random-state version {self._loaded.get('version')!r} "
                "in the checkpoint; ignored"
            )
            self._loaded = None
