"""Wall time of a 2-process CPU training (torchrun, gloo, DDP on CPU) against a 1-process one at the same total batch.

Both train the same arm on the same generated synthetic dataset as the pipeline's training rule runs them: the
1-process run with ``--threads T`` and ``images_per_gpu`` B, the 2-process run through ``torchrun --standalone
--nproc-per-node 2`` with ``--threads T/2`` per process and ``images_per_gpu`` B/2 (so the total batch and, with
``auto_scale_lr``, the learning rate are the same). Prints each run's wall time (the process, start to end) and the
training's own wall time (``train_manifest.json``'s ``wall_time_s``), its world size and learning rate.

Example::

    .venv/bin/python benchmarks/bench_multiprocess_training.py --num-train 64 --epochs 2 --threads 2 --batch 4
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dynrcnn.tools.commands import train_command  # noqa: E402  (standard library only)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arm", default="dynamic_rcnn", choices=["baseline", "dla", "dsl", "dynamic_rcnn"])
    p.add_argument("--num-train", type=int, default=64, help="generated training images")
    p.add_argument("--num-val", type=int, default=8, help="generated validation images")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="threads of the job (shared out among the processes)")
    p.add_argument("--batch", type=int, default=4, help="total batch (images per iteration, all processes)")
    p.add_argument("--out", help="folder for the runs (default: a temporary folder)")
    return p.parse_args()


def train(processes, args, data, out):
    work, run = out / f"p{processes}" / "work", out / f"p{processes}" / "run"
    threads = max(1, args.threads // processes)
    # the pipeline's train command (dynrcnn.tools.commands): torchrun and --launcher pytorch for N > 1 processes
    cmd = train_command(
        REPO / "configs" / "synthetic" / f"{args.arm}.py",
        work_dir=work,
        run_dir=run,
        seed=0,
        data_root=data,
        threads=threads,
        processes=processes,
        cfg_options=[f"train_cfg.max_epochs={args.epochs}", f"train_dataloader.batch_size={args.batch // processes}"],
        python=sys.executable,
    )
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    start = time.monotonic()
    with open(out / f"p{processes}.log", "w") as log:
        subprocess.run(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    wall = time.monotonic() - start
    manifest = json.loads((run / "train_manifest.json").read_text())
    return dict(
        processes=processes,
        threads_per_process=threads,
        images_per_process=args.batch // processes,
        world_size=manifest["world_size"],
        lr=manifest["lr"],
        process_wall_s=round(wall, 1),
        training_wall_s=round(manifest["wall_time_s"], 1),
    )


def main():
    args = parse_args()
    if args.batch % 2:
        sys.exit("--batch must be even (it is split over 2 processes)")
    from dynrcnn.data.synthetic import generate

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        data = generate(
            out / "data", num_train=args.num_train, num_val=args.num_val, image_size=args.image_size, seed=0
        )
        rows = [train(1, args, data, out), train(2, args, data, out)]
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
