"""Helpers of the tools' tests: a finished run folder without a training, and a stand-in for the inference."""

import json
import os

import numpy as np
import pytest
import torch

from dynrcnn import run_record
from dynrcnn.evaluation import inference


def _make_run(root, with_block=True, epochs=(1, 2)):
    rng = np.random.default_rng(0)
    images, anns, dets = [], [], []
    for img_id in range(1, 6):
        images.append(dict(id=img_id, file_name=f"{img_id}.png", width=100, height=100))
        for _ in range(3):
            x, y, w = float(rng.uniform(0, 50)), float(rng.uniform(0, 50)), float(rng.uniform(20, 45))
            anns.append(
                dict(id=len(anns) + 1, image_id=img_id, category_id=1, bbox=[x, y, w, w], area=w * w, iscrowd=0)
            )
            dets.append(
                dict(
                    image_id=img_id,
                    category_id=1,
                    bbox=[x + rng.normal(0, 2), y, w, w],
                    score=float(rng.uniform(0.2, 1)),
                )
            )
    ann = root / "val.json"
    ann.write_text(json.dumps(dict(images=images, annotations=anns, categories=[dict(id=1, name="box")])))
    det_file = root / "dets.json"
    det_file.write_text(json.dumps(dets))
    run, work = root / "results" / "runs" / "r", root / "results" / "work" / "r"
    run.mkdir(parents=True)
    work.mkdir(parents=True)
    for epoch in epochs:  # tiny mmengine-like checkpoints: weights, meta and optimizer state
        torch.save(
            dict(meta=dict(epoch=epoch), state_dict=dict(w=torch.full((2,), float(epoch))), optimizer=dict(lr=0.02)),
            work / f"epoch_{epoch}.pth",
        )
    block = "dynamic_rcnn=dict(iou_topk=50, beta_topk=8, update_iter_interval=20)" if with_block else ""
    (run / "config.py").write_text(
        f"model = dict(train_cfg=dict(rcnn=dict({block})))\n"
        f"val_evaluator = dict(type='CocoMetric', ann_file={str(ann)!r})\n"
    )
    run_record.write_manifest(
        str(run),
        dict(
            config="c.py",
            config_sha256="ab" * 32,
            checkpoint=str(work / f"epoch_{epochs[-1]}.pth"),
            epoch_checkpoints={e: str(work / f"epoch_{e}.pth") for e in epochs},
            work_dir=str(work),
            seed=3,
            dataset="synthetic",
            data_root="d",
            cfg_options=[],
            device="cpu",
            gpus=0,
            world_size=1,
            images_per_gpu=2,
            lr=0.02,
            base_lr=0.02,
            max_epochs=epochs[-1],
            threads=1,
            wall_time_s=12.5,
            cpu_model="Test CPU @ 1.00GHz",
            cpu_capability="AVX2",
        ),
    )
    return run, str(ann), str(det_file)


@pytest.fixture
def make_run():
    """``make_run(root, with_block=True, epochs=(1, 2)) -> (run_dir, ann_file, det_file)``: a run folder and its
    work dir ``root/results/{runs,work}/r`` as a finished training leaves them (tiny checkpoints), a val
    annotation file and detections of it."""
    return _make_run


class FakeRunner:
    """Stands in for the mmengine test runner: each test writes the template detections tagged with the checkpoint
    (its absolute path) and the image count, and notes the checkpoint in ``loaded``; loading a checkpoint reads it
    and calls the registered hooks' ``after_load_checkpoint``, as mmengine's runner does."""

    def __init__(self, dets, checkpoint, max_images, template, loaded):
        self.dets, self.max_images, self.template, self.loaded = dets, max_images, template, loaded
        self.checkpoint = checkpoint
        self.test_loop = self
        self.hooks = []

    def register_hook(self, hook):
        self.hooks.append(hook)

    def test(self):
        self.load_checkpoint(self.checkpoint)
        self.run()

    def load_checkpoint(self, path):
        self.checkpoint = path
        if os.path.isfile(path):
            state = torch.load(path, map_location="cpu", weights_only=False)
            for hook in self.hooks:
                hook.after_load_checkpoint(self, checkpoint=state)

    def run(self):
        if not os.path.isfile(self.checkpoint):
            raise FileNotFoundError(self.checkpoint)
        checkpoint = os.path.abspath(self.checkpoint)
        self.loaded.append(checkpoint)
        with open(self.dets, "w") as f:
            json.dump([dict(d, checkpoint=checkpoint, max_images=self.max_images) for d in self.template], f)


@pytest.fixture
def fake_inference(monkeypatch):
    """Replace the inference by :class:`FakeRunner`; returns ``use(det_file) -> loaded`` (checkpoints tested)."""

    def use(det_file):
        template = json.loads(open(det_file).read())
        loaded = []

        def build(cfg, checkpoint, work_dir, max_images=None):
            os.makedirs(work_dir, exist_ok=True)
            dets = f"{work_dir}/dets.bbox.json"
            return FakeRunner(dets, checkpoint, max_images, template, loaded), dets

        monkeypatch.setattr(inference, "build_test_runner", build)
        return loaded

    return use
