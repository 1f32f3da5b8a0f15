"""A run's folders: the training work dir's bookkeeping and what a finished training hands to the run folder.

* The work dir (checkpoints, mmengine's logs; not a Snakemake output, a killed training resumes from it) also
  holds ``resolved_config.py`` (the resolved config its checkpoints were trained with) and ``wall_time.json`` (the
  training's wall time over all its attempts, kept by :class:`dynrcnn.engine.hooks.RunWallTimeHook`).
* :func:`prepare_work_dir` decides whether a training resumes from its work dir, starts fresh, or supersedes
  checkpoints trained with another config (moved aside).
* :func:`finalize` writes the training's files into the run folder: ``scalars.json`` (every attempt's scalar log
  merged), ``config.py`` and, last, ``train_manifest.json`` (its presence means the training finished).

The formats and names of the run folder's files are :mod:`dynrcnn.run_record`'s. mmengine and torch are imported
only inside the functions that need them.
"""

import glob
import json
import os
import os.path as osp
import re
import time

from dynrcnn import run_record
from dynrcnn.fileio import atomic_copy, atomic_write_json, atomic_write_text
from dynrcnn.provenance import cpu_provenance, sha256_file

#: Files of the work dir kept besides mmengine's.
RESOLVED_CONFIG_FILE = "resolved_config.py"
WALL_TIME_FILE = "wall_time.json"
_EPOCH_CHECKPOINT_RE = re.compile(r"epoch_([0-9]+)\.pth")


def is_rank_zero():
    """Whether this process is rank 0 (before the runner initialises torch.distributed, the launcher's ``RANK``
    variable is the only rank there is)."""
    return int(os.environ.get("RANK", "0")) == 0


def resume_decision(work_dir, resolved_text):
    """What to do with an existing work dir: ``'fresh'``, ``'resume'`` or ``'supersede'``.

    A work dir whose checkpoints were trained with a different resolved config (changed hyper-parameters,
    schedule, ...) must not be resumed (``'supersede'``: it is moved aside and the training starts over). The
    decision only reads files, so every rank of a distributed training reaches the same one.

    Args:
        work_dir (str): The training work dir.
        resolved_text (str): The resolved config of this attempt.

    Returns:
        str: The decision.
    """
    from mmengine.runner import find_latest_checkpoint

    if not osp.isdir(work_dir) or find_latest_checkpoint(work_dir) is None:
        return "fresh"
    previous = osp.join(work_dir, RESOLVED_CONFIG_FILE)
    if osp.exists(previous) and open(previous).read() == resolved_text:
        return "resume"
    return "supersede"


def prepare_work_dir(work_dir, resolved_text, log=print):
    """Get the work dir ready for a training with the resolved config ``resolved_text``.

    Checkpoints of another config are moved to ``{work_dir}.superseded-{time}`` (by rank 0); rank 0 records the
    resolved config in the work dir.

    Returns:
        bool: whether the training resumes from the work dir's newest checkpoint.
    """
    decision = resume_decision(work_dir, resolved_text)
    if decision == "supersede" and is_rank_zero():
        aside = f"{work_dir.rstrip('/')}.superseded-{time.strftime('%Y%m%d_%H%M%S')}"
        os.rename(work_dir, aside)
        log(f"the checkpoints in {work_dir} were trained with another config: moved to {aside}; starting over")
    os.makedirs(work_dir, exist_ok=True)
    if is_rank_zero():
        atomic_write_text(osp.join(work_dir, RESOLVED_CONFIG_FILE), resolved_text)
    resuming = decision == "resume"
    log("resuming from " + work_dir if resuming else "starting fresh")
    return resuming


def read_wall_time(work_dir, missing=None):
    """Seconds of training recorded in the work dir's ``wall_time.json`` (``missing`` when there is none)."""
    path = osp.join(work_dir, WALL_TIME_FILE)
    if not osp.exists(path):
        return missing
    with open(path) as f:
        return float(json.load(f)["seconds"])


def write_wall_time(work_dir, seconds):
    """Record (atomically) that the training of the work dir has taken ``seconds`` so far."""
    atomic_write_json(osp.join(work_dir, WALL_TIME_FILE), dict(seconds=seconds))


def merge_scalars(work_dir):
    """mmengine's ``vis_data/scalars.json`` of every attempt of a training, merged into one history.

    Each (re)start writes a new ``{timestamp}/vis_data/scalars.json``. An attempt that was killed may have logged
    iterations after its last checkpoint; the resumed attempt logs them again, and its lines win.

    Args:
        work_dir (str): Training work directory.

    Returns:
        list[dict]: The scalar lines, in training order.
    """
    is_train = run_record.is_train_line
    merged = []
    for path in sorted(glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json"))):
        with open(path) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        if not lines:
            continue
        train_steps = [d["step"] for d in lines if is_train(d)]
        val_steps = [d["step"] for d in lines if not is_train(d)]
        first_train = min(train_steps) if train_steps else None
        first_val = min(val_steps) if val_steps else None
        merged = [
            d
            for d in merged
            if not (
                (is_train(d) and first_train is not None and d["step"] >= first_train)
                or (not is_train(d) and first_val is not None and d["step"] >= first_val)
            )
        ]
        merged.extend(lines)
    return merged


def epoch_checkpoints(work_dir):
    """``{epoch: path}`` of the ``epoch_{N}.pth`` checkpoints kept in a training work dir, sorted by epoch."""
    found = {}
    for name in os.listdir(work_dir):
        match = _EPOCH_CHECKPOINT_RE.fullmatch(name)
        if match:
            found[int(match.group(1))] = osp.join(work_dir, name)
    return dict(sorted(found.items()))


def effective_lr(cfg, world_size):
    """Learning rate actually used: the config's, scaled like mmengine does when ``auto_scale_lr`` is on."""
    lr = float(cfg.optim_wrapper.optimizer.lr)
    scale = cfg.get("auto_scale_lr")
    if scale and scale.get("enable", False):
        lr *= world_size * int(cfg.train_dataloader.batch_size) / float(scale["base_batch_size"])
    return lr


def finalize(run_dir, work_dir, cfg, *, world_size, max_epochs, config, seed, dataset, data_root, cfg_options=None):
    """Write a finished training's files into the run folder, ``train_manifest.json`` last.

    Args:
        run_dir (str): The run folder.
        work_dir (str): The training work dir.
        cfg (mmengine.Config): The resolved config of the training.
        world_size (int): Processes of the training.
        max_epochs (int): Epochs trained.
        config (str): The config file the training was started with.
        seed (int): Random seed.
        dataset (str): Dataset layout (a key of :data:`dynrcnn.run_record.DATASET_LAYOUTS`).
        data_root (str): Dataset root.
        cfg_options (dict, optional): The ``--cfg-options`` given.

    Returns:
        dict: The manifest as :func:`dynrcnn.run_record.read_manifest` reads it back.
    """
    import torch
    from mmengine.runner import find_latest_checkpoint

    resolved_config = osp.join(work_dir, RESOLVED_CONFIG_FILE)
    run_record.write_scalars(osp.join(run_dir, run_record.SCALARS_FILE), merge_scalars(work_dir))
    atomic_copy(resolved_config, osp.join(run_dir, run_record.CONFIG_FILE))
    checkpoint = find_latest_checkpoint(work_dir)
    if checkpoint is None:
        raise RuntimeError(
            f"training finished but no checkpoint was saved in {work_dir}: the config needs a CheckpointHook "
            "(default_hooks.checkpoint)"
        )
    manifest = dict(
        config=config,
        config_sha256=sha256_file(resolved_config),
        checkpoint=checkpoint,
        epoch_checkpoints=epoch_checkpoints(work_dir),
        work_dir=work_dir,
        seed=seed,
        dataset=dataset,
        data_root=data_root,
        cfg_options=[f"{k}={v}" for k, v in (cfg_options or {}).items()],
        device=torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        gpus=world_size if torch.cuda.is_available() else 0,
        world_size=world_size,
        images_per_gpu=int(cfg.train_dataloader.batch_size),
        lr=effective_lr(cfg, world_size),
        base_lr=float(cfg.optim_wrapper.optimizer.lr),
        max_epochs=int(max_epochs),
        threads=torch.get_num_threads(),
        wall_time_s=read_wall_time(work_dir),
        # the machine that made the numbers: a CPU run's results differ between CPU types for the same seed
        **cpu_provenance(),
    )
    run_record.write_manifest(run_dir, manifest)
    return run_record.read_manifest(run_dir)


def checked_manifest(run_dir, epochs=False):
    """A finished run's manifest (:func:`dynrcnn.run_record.read_manifest`) whose checkpoint files exist.

    Args:
        run_dir (str): The run folder.
        epochs (bool): Check the ``epoch_checkpoints`` (and that there is one) instead of the final checkpoint.

    Raises:
        dynrcnn.run_record.RunRecordError: the manifest is missing or malformed, or a checkpoint it names is gone;
            the message names the run and the fix.
    """
    manifest = run_record.read_manifest(run_dir)
    where = osp.join(run_dir, run_record.MANIFEST_FILE)
    if epochs and not manifest["epoch_checkpoints"]:
        raise run_record.RunRecordError(
            f"{where}: the training kept no epoch_{{N}}.pth checkpoint (the config needs a CheckpointHook "
            f"by epoch). {run_record.MANIFEST_FIX}"
        )
    paths = manifest["epoch_checkpoints"].values() if epochs else [manifest["checkpoint"]]
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise run_record.RunRecordError(
            f"{where}: the training's checkpoint {', '.join(missing)} is missing (its work dir "
            f"{manifest['work_dir']} was deleted or moved). {run_record.MANIFEST_FIX}"
        )
    return manifest
