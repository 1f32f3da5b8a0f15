"""One rank of test_sync_across_ranks (run as a subprocess, gloo on CPU).

Usage: python _dist_worker.py OUT_DIR (RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT in the environment). Writes OUT_DIR/rank{RANK}.json.
"""

import json
import os
import sys

import torch
import torch.distributed as torch_dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402

torch.set_num_threads(1)


def main(out_dir):
    torch_dist.init_process_group("gloo", init_method="env://")
    rank = torch_dist.get_rank()
    # different data on each rank
    batches = [conftest.make_batch(100 * rank + s) for s in range(4)]
    result = {}
    for sync in (True, False):
        (head,) = conftest.build_heads("AblationRoIHead", sync_across_ranks=sync, update_iter_interval=3)
        recs = conftest.run_iters(head, batches)
        result[str(sync)] = [
            dict(
                thr_after=r["thr_after"],
                beta_after=r["beta_after"],
                iou_stat=float(r["log"]["iou_stat"]),
                beta_stat=float(r["log"]["beta_stat"]),
            )
            for r in recs
        ]
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    torch_dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
