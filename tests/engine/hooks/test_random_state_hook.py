"""RandomStateHook and epoch_seeded_worker_init_fn without a training: random-number states through a checkpoint,
the cases that cannot be exact, and per-epoch worker seeds (the training itself: tests/reliability)."""

import io
import random
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import Dataset

import dynrcnn.engine  # noqa: F401  registers the hook and the worker_init_fn
from dynrcnn.engine.hooks.random_state_hook import (
    RandomStateHook,
    capture_random_state,
    epoch_seeded_worker_init_fn,
    restore_random_state,
)

REPO = Path(__file__).resolve().parents[3]


def draws():
    """A few numbers from every random-number generator the hook covers."""
    return (
        random.random(),
        random.getrandbits(64),
        np.random.rand(3).tolist(),
        np.random.randn(),
        torch.rand(3).tolist(),
        torch.randperm(10).tolist(),
    )


def scramble(seed=12345):
    """What a restarted process does: re-seed everything (mmengine's set_random_seed)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fake_runner(iteration=0):
    loader = SimpleNamespace(num_workers=0, persistent_workers=False, worker_init_fn=None)
    return SimpleNamespace(
        iter=iteration, hooks=[], train_loop=SimpleNamespace(dataloader=loader), logger=mock.MagicMock()
    )


def through_file(checkpoint):
    """Save and load like mmengine does, with torch's safe loader (the default since torch 2.6)."""
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def warnings_of(runner):
    return " ".join(str(call.args[0]) for call in runner.logger.warning.call_args_list)


def test_capture_and_restore_give_the_same_next_draws():
    scramble(1)
    np.random.randn()  # a cached Gaussian is part of numpy's state
    state = capture_random_state()
    expected = draws()
    scramble(2)
    restore_random_state(state)
    assert draws() == expected


def test_resumed_epoch_draws_what_the_uninterrupted_epoch_drew():
    scramble(0)
    draws()  # epoch 1
    runner = fake_runner(iteration=8)
    first = RandomStateHook()
    first.before_train_iter(runner, 7)
    first.after_train_epoch(runner)
    checkpoint = {"meta": {}}
    first.before_save_checkpoint(runner, checkpoint)
    draws()  # a validation between the epochs: must not shift the training's stream
    first.before_train_epoch(runner)
    uninterrupted = draws()  # epoch 2

    # a new process resumes from the checkpoint: seeded, then the runner's own setup draws numbers
    scramble(0)
    draws()
    loaded = through_file(checkpoint)
    second = RandomStateHook()
    second.after_load_checkpoint(runner, loaded)
    second.before_train(runner)
    draws()  # anything between before_train and the first epoch
    second.before_train_epoch(runner)
    assert draws() == uninterrupted
    assert loaded["random_state"]["epoch_end"] is True and len(loaded["random_state"]["ranks"]) == 1


def test_tensors_loaded_onto_another_device_are_moved_back():
    state = capture_random_state()
    expected = draws()
    moved = dict(state, torch=mock.MagicMock(cpu=mock.MagicMock(return_value=state["torch"])))
    restore_random_state(moved)
    assert draws() == expected
    moved["torch"].cpu.assert_called_once()


def test_a_fresh_training_from_a_loaded_checkpoint_keeps_its_seeded_states():
    scramble(0)
    checkpoint = {}
    hook = RandomStateHook()
    hook.after_train_epoch(fake_runner(8))
    hook.before_save_checkpoint(fake_runner(8), checkpoint)
    scramble(3)
    expected = draws()
    scramble(3)
    other = RandomStateHook()
    other.after_load_checkpoint(fake_runner(0), checkpoint)  # load_from, iteration 0
    other.before_train(fake_runner(0))
    other.before_train_epoch(fake_runner(0))
    assert draws() == expected


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "has no random-number states"),
        ("inside_epoch", "saved inside an epoch"),
        ("other_world_size", "states of 2 rank(s), this training has 1"),
    ],
)
def test_resumes_that_cannot_be_exact_warn_and_keep_the_seeded_states(case, message):
    runner = fake_runner(8)
    hook = RandomStateHook()
    checkpoint = {}
    if case == "inside_epoch":
        hook.before_train_iter(runner, 3)  # no epoch end since the last iteration
        hook.before_save_checkpoint(runner, checkpoint)
        assert checkpoint["random_state"]["epoch_end"] is False
    elif case == "other_world_size":
        state = capture_random_state()
        checkpoint["random_state"] = dict(version=1, epoch_end=True, ranks=[state, state])
    scramble(4)
    expected = draws()
    scramble(4)
    resumed = RandomStateHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    resumed.before_train(runner)
    resumed.before_train_epoch(runner)
    assert draws() == expected
    assert message in warnings_of(runner)


def test_setup_that_defeats_an_exact_resume_is_named():
    runner = fake_runner()
    runner.train_loop.dataloader = SimpleNamespace(num_workers=2, persistent_workers=True, worker_init_fn=None)
    RandomStateHook().before_train(runner)
    text = warnings_of(runner)
    assert "is not an EpochBasedTrainLoop" in text
    assert "persistent_workers=True" in text
    assert "worker_init_fn is not dict(type='epoch_seeded_worker_init_fn')" in text


# ------------------------------------------------------------------ data-loader workers
class WorkerDraws(Dataset):
    """Each item: what the worker's three generators give."""

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return (random.random(), float(np.random.rand()), torch.rand(()).item())


def loader_from_config(worker_init_fn, num_workers=2):
    cfg = dict(
        dataset=WorkerDraws(),
        batch_size=1,
        num_workers=num_workers,
        persistent_workers=False,
        sampler=dict(type="DefaultSampler", shuffle=False),
        collate_fn=dict(type="default_collate"),
    )
    if worker_init_fn:
        cfg["worker_init_fn"] = dict(type=worker_init_fn)
    return Runner.build_dataloader(cfg, seed=0)


def epoch(loader):
    return [tuple(float(v) for v in batch) for batch in loader]


def test_workers_are_seeded_per_epoch_and_from_the_torch_state():
    torch.manual_seed(0)
    loader = loader_from_config("epoch_seeded_worker_init_fn")  # resolved through the registry, as in the configs
    state = torch.get_rng_state()
    first, second = epoch(loader), epoch(loader)
    assert first != second  # every epoch its own stream
    assert len({v for item in first for v in item}) == 12  # workers and generators differ too
    torch.set_rng_state(state)
    assert epoch(loader) == first  # a function of the main torch RNG, which RandomStateHook restores


def test_mmengine_default_worker_seeds_repeat_every_epoch():
    # why the configs set worker_init_fn: mmengine's default gives each epoch the same worker seeds
    loader = loader_from_config(None)
    assert epoch(loader) == epoch(loader)


def test_worker_seed_depends_on_the_rank():
    info = SimpleNamespace(seed=1000)
    seen = []
    for rank in ("0", "1"):
        with (
            mock.patch("torch.utils.data.get_worker_info", return_value=info),
            mock.patch.dict("os.environ", {"RANK": rank}),
        ):
            epoch_seeded_worker_init_fn(0)
            seen.append(draws())
    assert seen[0] != seen[1]


@pytest.mark.parametrize("family", ["synthetic", "coco_r50_fpn_1x"])
def test_both_families_use_the_hook_and_the_worker_seeding(family):
    cfg = Config.fromfile(str(REPO / "configs" / family / "dynamic_rcnn.py"))
    assert [h.type for h in cfg.custom_hooks] == ["DynamicRCNNStatsHook", "RandomStateHook"]
    assert cfg.train_dataloader.worker_init_fn == dict(type="epoch_seeded_worker_init_fn")
    assert cfg.train_dataloader.persistent_workers is False


# ------------------------------------------------------------------ several ranks
def _two_rank_worker(rank, port, queue):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        scramble(100 + rank)  # every rank its own stream
        runner = fake_runner(iteration=8)
        hook = RandomStateHook()
        hook.after_train_epoch(runner)  # collective: every rank
        checkpoint = {}
        if rank == 0:  # mmengine saves on rank 0 only
            hook.before_save_checkpoint(runner, checkpoint)
        expected = draws()
        # every rank loads rank 0's file
        shared = [through_file(checkpoint) if rank == 0 else None]
        dist.broadcast_object_list(shared, src=0)
        scramble(7)
        resumed = RandomStateHook()
        resumed.after_load_checkpoint(runner, shared[0])
        resumed.before_train(runner)
        resumed.before_train_epoch(runner)
        queue.put((rank, len(shared[0]["random_state"]["ranks"]), draws() == expected, expected))
    finally:
        dist.destroy_process_group()


def test_every_rank_gets_its_own_states_back():
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("fork")
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_two_rank_worker, args=(rank, port, queue)) for rank in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    results = sorted(queue.get() for _ in procs)
    assert [r[:3] for r in results] == [(0, 2, True), (1, 2, True)]
    assert results[0][3] != results[1][3]  # the ranks' streams differ: each got its own back
