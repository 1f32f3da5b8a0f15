"""A seed means something: it changes every random draw of a training (weight initialisation, data order,
augmentation, the R-CNN head's RoI sampling) and nothing else, and the same seed gives the same numbers on the same
machine. The synthetic dataset is not reseeded by the run's seed (it is fixed by ``dataset.synthetic.seed``)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mmdet")

from dynrcnn import run_record  # noqa: E402
from dynrcnn.tools.commands import evaluate_command, train_command  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "synthetic" / "dynamic_rcnn.py"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from dynrcnn.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("seeds") / "data", num_train=6, num_val=3, image_size=96)


def _draws(data_root, seed, tmp_path):
    """Build the synthetic config's runner with ``seed`` as the pipeline does, and take its first random draws."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from dynrcnn.tools.train import set_data_paths

    cfg = Config.fromfile(str(CONFIG))
    set_data_paths(cfg, str(data_root), "synthetic")
    cfg.randomness = dict(seed=seed, deterministic=False)  # what dynrcnn.tools.train sets from --seed
    cfg.work_dir = str(tmp_path / f"work_{seed}_{len(list(tmp_path.iterdir()))}")
    # process-wide mmengine instances are looked up by name: a unique one per runner
    cfg.experiment_name = cfg.visualizer.name = Path(cfg.work_dir).name
    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    weights = torch.cat([p.detach().flatten() for p in runner.model.parameters()]).numpy().copy()
    loader = runner.build_dataloader(cfg.train_dataloader)
    # the order the training reads the images in (the loader's own .sampler is a placeholder next to the
    # batch sampler that wraps the seeded DefaultSampler)
    order = [i for batch in loader.batch_sampler for i in batch]
    dataset = loader.dataset
    flips = [bool(dataset[i % len(dataset)]["data_samples"].flip) for i in range(24)]
    roi_draw = runner.model.roi_head.bbox_sampler.random_choice(torch.arange(1000), 16).tolist()
    images = [info["img_path"] for info in dataset.data_list]
    return dict(weights=weights, order=order, flips=flips, roi_draw=roi_draw, images=images)


def test_the_seed_reaches_every_random_draw_and_only_those(tiny_data, tmp_path):
    first, again, other = (_draws(tiny_data, seed, tmp_path) for seed in (0, 0, 1))
    # the same seed: the same draws
    assert np.array_equal(first["weights"], again["weights"])
    for key in ("order", "flips", "roi_draw"):
        assert first[key] == again[key], key
    # another seed: every kind of draw changes
    assert not np.array_equal(first["weights"], other["weights"]), "weight initialisation ignores the seed"
    assert first["order"] != other["order"], "data order ignores the seed"
    assert first["flips"] != other["flips"], "augmentation (RandomFlip) ignores the seed"
    assert first["roi_draw"] != other["roi_draw"], "the RoI sampler ignores the seed"
    # ... but not the data: the dataset is the same files in the same order
    assert first["images"] == other["images"] and sorted(first["order"]) == sorted(other["order"])


def _train_and_evaluate(data_root, seed, root):
    run, work = root / "runs" / f"r{seed}", root / "work" / f"r{seed}"
    common = dict(capture_output=True, text=True, cwd=REPO)
    options = ["train_cfg.max_epochs=1", "default_hooks.logger.interval=1"]
    train = train_command(
        CONFIG, work_dir=work, run_dir=run, seed=seed, data_root=data_root, cfg_options=options, python=sys.executable
    )
    proc = subprocess.run(train, **common)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    evaluate = evaluate_command(
        run, family="synthetic", arm="dynamic_rcnn", variant="default", seed=seed, python=sys.executable
    )
    proc = subprocess.run(evaluate, **common)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    train_rows, _ = run_record.read_scalars(run / run_record.SCALARS_FILE)
    metrics = json.loads((run / run_record.METRICS_FILE).read_text())
    detections = json.loads((run / run_record.FINAL_DETECTIONS_FILE).read_text())
    return dict(
        losses=[row["loss"] for row in train_rows if "loss" in row],
        metrics=metrics["metrics"],
        detections=[(d["image_id"], d["category_id"], d["bbox"], d["score"]) for d in detections],
        provenance=metrics["provenance"],
    )


@pytest.mark.slow
def test_same_seed_same_numbers_other_seed_other_numbers(tiny_data, tmp_path):
    """Three tiny trainings through the tools: seeds 0, 0 and 1 (one epoch on 6 images)."""
    first, again, other = (_train_and_evaluate(tiny_data, seed, tmp_path / str(i)) for i, seed in enumerate((0, 0, 1)))
    assert first["losses"] and first["detections"]
    # same machine, same seed: bit-identical losses, detections and metrics
    assert first["losses"] == again["losses"]
    assert first["detections"] == again["detections"]
    assert first["metrics"] == again["metrics"]
    # another seed: another training
    assert first["losses"] != other["losses"]
    assert first["detections"] != other["detections"]
    # the machine that made the numbers is recorded with them
    assert first["provenance"]["cpu_model"] and first["provenance"]["cpu_capability"]
