"""``sync_across_ranks``: two CPU processes (gloo) with different data."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_dist_worker.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    env = dict(os.environ, WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()), OMP_NUM_THREADS="1")
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, str(out)],
            env=dict(env, RANK=str(r)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for r in range(2)
    ]
    logs = [p.communicate(timeout=120)[0].decode() for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def _expected(recs_per_rank):
    """DynamicRoIHead's update rule on the given records."""
    ious = [r["iou_stat"] for recs in recs_per_rank for r in recs[:3]]
    betas = [r["beta_stat"] for recs in recs_per_rank for r in recs[:3]]
    return max(0.4, float(np.mean(ious))), min(1.0, float(np.median(betas)))


def test_synced_ranks_share_threshold_and_beta(ranks):
    synced = [r["True"] for r in ranks]
    thr, beta = _expected(synced)
    for recs in synced:
        # the update after iteration 3 uses the statistics of both ranks
        assert recs[2]["thr_after"] == pytest.approx(thr, abs=1e-9)
        assert recs[2]["beta_after"] == pytest.approx(beta, abs=1e-9)
        assert recs[3]["thr_after"] == recs[2]["thr_after"]
    assert synced[0][1]["thr_after"] == 0.5  # no update before iteration 3


def test_default_keeps_per_rank_values(ranks):
    local = [r["False"] for r in ranks]
    for recs in local:
        thr, beta = _expected([recs])
        assert recs[2]["thr_after"] == pytest.approx(thr, abs=1e-9)
        assert recs[2]["beta_after"] == pytest.approx(beta, abs=1e-9)
    # the ranks saw different data, so unsynchronised values differ
    assert local[0][2]["thr_after"] != pytest.approx(local[1][2]["thr_after"])
    # and the raw statistics are the same with and without synchronisation
    for r in ranks:
        assert [x["iou_stat"] for x in r["True"]] == [x["iou_stat"] for x in r["False"]]
