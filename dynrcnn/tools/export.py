"""Releasable checkpoints: each finished run's final weights without optimizer state, its resolved config and one
metafile per family in MMDetection's model-index format (as MMDetection's ``.dev_scripts/gather_models.py`` and
``tools/model_converters/publish_model.py`` publish their model zoo).

Usage (what the Snakemake ``export`` rule runs)::

    python -m dynrcnn.tools.export --family F --out OUT RUN_DIR [RUN_DIR ...]

For each run folder (``train_manifest.json``, ``config.py`` and ``metrics.json``, i.e. trained and evaluated), OUT
receives

* ``{name}-{sha256[:8]}.pth``: the final checkpoint's ``state_dict`` and ``meta`` only (optimizer, schedulers and
  message hub dropped, as ``publish_model.py`` does); ``name`` is ``{family}_{arm}_{variant}_seed{seed}``;
* ``{name}.py``: the run's resolved config (``config.py``), which ``mmdet.apis.init_detector`` builds the model from;
* ``metafile.yml``: ``Collections`` (the family) and ``Models`` (one per run: Name, In Collection, Config, Metadata
  with Training Resources, Training Time, Epochs or Iterations, Results with the box AP, Weights).

The published bytes are made in memory (:func:`published_weights`), so their sha256 does not depend on the file
name; :mod:`dynrcnn.tools.evaluate` records the same digest (:func:`weights_sha256`) as ``weights_sha256`` in
``metrics.json``'s provenance, and the export refuses a run whose checkpoint no longer gives that digest (it changed
after the evaluation). OUT is built aside and moved into place complete.
"""

import argparse
import hashlib
import io
import os
import os.path as osp
import shutil
import sys
import tempfile

from dynrcnn import run_record
from dynrcnn.fileio import replace_dir

PROG = "python -m dynrcnn.tools.export"
#: The checkpoint keys kept in a published checkpoint (MMDetection's ``publish_model.py``).
KEPT_KEYS = ("meta", "state_dict")
METAFILE = "metafile.yml"
PAPER = dict(
    Title="Dynamic R-CNN: Towards High Quality Object Detection via Dynamic Training",
    URL="https://arxiv.org/abs/2004.06002",
)


class ExportError(ValueError):
    """A run cannot be exported; the message names the run and the fix."""


def published_weights(checkpoint) -> bytes:
    """The bytes of a checkpoint's published form: its ``meta`` and ``state_dict`` only.

    Args:
        checkpoint (str): An mmengine checkpoint (``.pth``).

    Returns:
        bytes: ``torch.save`` of the stripped dict (the same bytes for the same checkpoint, whatever file they go to).
    """
    import torch

    return published_bytes(torch.load(checkpoint, map_location="cpu", weights_only=False), checkpoint)


def published_bytes(state, checkpoint) -> bytes:
    """:func:`published_weights` of a checkpoint already loaded (``state``, read from the file ``checkpoint``)."""
    import torch

    if not isinstance(state, dict) or "state_dict" not in state:
        raise ExportError(f"{checkpoint}: not an mmengine checkpoint (no 'state_dict'); retrain the run")
    buffer = io.BytesIO()
    torch.save({k: state[k] for k in KEPT_KEYS if k in state}, buffer)
    return buffer.getvalue()


def weights_sha256(checkpoint) -> str:
    """The sha256 (hex) of :func:`published_weights` of ``checkpoint``: what metrics.json records."""
    return hashlib.sha256(published_weights(checkpoint)).hexdigest()


def loaded_weights_sha256(state, checkpoint) -> str:
    """:func:`weights_sha256` of a checkpoint already loaded (``state``, read from the file ``checkpoint``)."""
    return hashlib.sha256(published_bytes(state, checkpoint)).hexdigest()


def model_name(run) -> str:
    """``{family}_{arm}_{variant}_seed{seed}`` of metrics.json's ``run`` block."""
    return f"{run['family']}_{run['arm']}_{run['variant']}_seed{run['seed']}"


def schedule(cfg_path, manifest) -> dict:
    """``{"Epochs": N}`` or ``{"Iterations": N}`` of the resolved config's train loop."""
    from mmengine.config import Config

    train_cfg = Config.fromfile(cfg_path).get("train_cfg", {})
    if train_cfg.get("max_iters"):
        return {"Iterations": int(train_cfg["max_iters"])}
    return {"Epochs": int(manifest["max_epochs"])}


def training_resources(manifest) -> str:
    """``8x NVIDIA H100`` or ``CPU (model, N threads)``."""
    if manifest["gpus"]:
        return f"{manifest['gpus']}x {manifest['device']}"
    return f"CPU ({manifest['cpu_model']}, {manifest['threads']} threads)"


def export_run(run_dir, out_dir) -> dict:
    """Write one run's published weights and config into ``out_dir``.

    Args:
        run_dir (str): A trained and evaluated run folder.
        out_dir (str): The folder receiving the files.

    Returns:
        dict: The run's ``Models`` entry of the metafile.

    Raises:
        ExportError: the run is not evaluated, or its checkpoint changed after the evaluation.
    """
    metrics_file = osp.join(run_dir, run_record.METRICS_FILE)
    if not osp.isfile(metrics_file):
        raise ExportError(f"{run_dir}: no {run_record.METRICS_FILE}; evaluate the run first (snakemake {metrics_file})")
    record = run_record.read_metrics(metrics_file)
    manifest = run_record.read_manifest(run_dir)
    data = published_weights(manifest["checkpoint"])
    sha = hashlib.sha256(data).hexdigest()
    recorded = run_record.provenance_values(record)["weights_sha256"]
    if recorded is not None and recorded != sha:
        raise ExportError(
            f"{run_dir}: the checkpoint {manifest['checkpoint']} gives weights with sha256 {sha[:8]}..., "
            f"metrics.json records {recorded[:8]}...: it changed after the evaluation; re-evaluate the run "
            f"(delete {metrics_file} and rerun snakemake)"
        )
    name = model_name(record["run"])
    weights, config = f"{name}-{sha[:8]}.pth", f"{name}.py"
    with open(osp.join(out_dir, weights), "wb") as f:
        f.write(data)
    shutil.copyfile(osp.join(run_dir, run_record.CONFIG_FILE), osp.join(out_dir, config))
    hours = manifest["wall_time_s"] / 3600
    return {
        "Name": name,
        "In Collection": record["run"]["family"],
        "Config": config,
        "Metadata": {
            "Training Resources": training_resources(manifest),
            "Training Time (h)": round(hours, 3),
            **schedule(osp.join(run_dir, run_record.CONFIG_FILE), manifest),
            "Seed": record["run"]["seed"],
        },
        "Results": [
            {
                "Task": "Object Detection",
                "Dataset": "COCO" if record["run"]["dataset"] == "coco" else record["run"]["dataset"],
                "Metrics": {"box AP": round(100 * record["metrics"]["AP"], 1)},
            }
        ],
        "Weights": weights,
    }


def metafile(family, models) -> dict:
    """The model-index document of one family."""
    return {
        "Collections": [
            {
                "Name": family,
                "Metadata": {"Architecture": ["Dynamic R-CNN", "Faster R-CNN", "FPN", "RPN", "ResNet", "RoIAlign"]},
                "Paper": dict(PAPER),
            }
        ],
        "Models": models,
    }


def export(run_dirs, family, out_dir) -> list:
    """Export ``run_dirs`` of ``family`` into ``out_dir`` (built aside, moved into place complete).

    Returns:
        list[dict]: The metafile's ``Models``.
    """
    import yaml

    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f".{osp.basename(out_dir)}.", dir=parent)
    try:
        models = [export_run(run_dir, scratch) for run_dir in run_dirs]
        with open(osp.join(scratch, METAFILE), "w", encoding="utf-8") as f:
            yaml.safe_dump(metafile(family, models), f, sort_keys=False, allow_unicode=True)
        replace_dir(scratch, out_dir)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return models


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog=PROG, description="Publish runs' weights (no optimizer) and a metafile.")
    parser.add_argument("runs", nargs="+", help="trained and evaluated run folders")
    parser.add_argument("--family", required=True, help="the config family (the metafile's collection)")
    parser.add_argument("--out", required=True, help="output folder (replaced when complete)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        models = export(args.runs, args.family, args.out)
    except (ExportError, run_record.RunRecordError) as e:
        sys.exit(f"{PROG}: error: {e}")
    for model in models:
        print(f"[dynrcnn.tools.export] {args.out}/{model['Weights']}", flush=True)


if __name__ == "__main__":
    main()
