"""dynrcnn.compat: torch >= 2.6 checkpoint loading, numpy 2 and pkg_resources checks."""

import importlib.util
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from dynrcnn import compat

# A real mmengine training run that saves a checkpoint (its MessageHub holds HistoryBuffers), then a second Runner
# resumes from it. Run in fresh interpreters so the safe-globals registry of this process does not leak in.
RESUME_SCRIPT = textwrap.dedent("""
    import sys, torch
    from torch import nn
    if sys.argv[2] == 'with-compat':
        import dynrcnn.compat  # noqa: F401
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1)
        def forward(self, inputs, labels=None, mode='loss'):
            inputs = torch.stack(inputs) if isinstance(inputs, list) else inputs
            return {'loss': ((self.linear(inputs) - 1) ** 2).mean()}

    data = [dict(inputs=torch.full((2,), float(i))) for i in range(4)]
    def runner(resume):
        return Runner(
            model=Toy(), work_dir=sys.argv[1], experiment_name='toy' + str(resume),
            train_dataloader=dict(dataset=data, sampler=dict(type='DefaultSampler', shuffle=False),
                                  batch_size=2, collate_fn=dict(type='default_collate')),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            train_cfg=dict(by_epoch=True, max_epochs=2 if not resume else 3),
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
            resume=resume, default_scope='mmengine')
    runner(False).train()
    resumed = runner(True)
    resumed.train()
    print('RESUMED_AT_EPOCH', resumed.epoch)
""")


def _run_resume(tmp_path, mode):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "work"), mode], capture_output=True, text=True, timeout=300
    )


def test_mmengine_resume_works_with_compat(tmp_path):
    result = _run_resume(tmp_path, "with-compat")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "RESUMED_AT_EPOCH 3" in result.stdout


def test_mmengine_resume_fails_without_compat(tmp_path):
    """The failure compat fixes is real on this stack: without it, resuming an mmengine checkpoint raises."""
    result = _run_resume(tmp_path, "without-compat")
    assert result.returncode != 0
    assert "weights_only" in result.stderr or "Unsupported global" in result.stderr


def test_checkpoint_loader_still_refuses_other_callables(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (getattr, (np.ndarray, "tofile"))  # numpy classes are allowed; their methods are not

    path = tmp_path / "evil.pth"
    torch.save({"x": Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match="only HistoryBuffer"):
        torch.load(path)


def test_numpy_2_is_rejected_with_the_fix():
    with pytest.raises(compat.EnvironmentIncompatibility, match="numpy==1.26.4"):
        compat.check_numpy("2.1.0")
    compat.check_numpy("1.26.4")


def test_missing_pkg_resources_is_reported(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pkg_resources" else real_find_spec(name, *a)
    )
    with pytest.raises(compat.EnvironmentIncompatibility, match="setuptools>=77,<81"):
        compat.check_pkg_resources()


def test_installed_stack_passes_the_checks():
    compat.check_numpy()
    compat.check_pkg_resources()
