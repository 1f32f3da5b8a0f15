"""The compute table: its totals are the sums of the benchmark files; GPU-hours are wall x GPUs; unknown stays
unknown; a malformed file is one error naming it."""

import json
import math

import pytest

from analysis import compute

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _tsv(root, rule, arm, seed, wall, cpu, rss, family="fam", variant="default"):
    path = root / compute.benchmark_path(rule, family, arm, variant, seed, root="b")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{wall}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t50\t{cpu}\n")
    return path


def _run(root, arm, seed, gpus, memory=()):
    folder = root / "runs" / arm / "default" / f"seed{seed}"
    folder.mkdir(parents=True)
    prov = dict(gpus=gpus, device="NVIDIA H200" if gpus else "cpu", cpu_model="Test CPU", eval_device=None)
    record = dict(run=dict(arm=arm, variant="default", seed=seed), provenance=prov)
    (folder / "metrics.json").write_text(json.dumps(record))
    lines = [dict(step=i + 1, loss=1.0, **({"memory": m} if m is not None else {})) for i, m in enumerate(memory)]
    (folder / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def test_totals_are_the_sums_of_the_files(tmp_path):
    files = [
        _tsv(tmp_path, "train", "baseline", 0, 3600, 7200, 900),
        _tsv(tmp_path, "evaluate", "baseline", 0, 360, 300, 1200),
        _tsv(tmp_path, "train", "dla", 0, 1800, 1800, 800),
        _tsv(tmp_path, "epoch_detections", "dla", 0, 36, 30, 700),
    ]
    runs = [_run(tmp_path, "baseline", 0, gpus=8, memory=[3000, 3900]), _run(tmp_path, "dla", 0, gpus=8)]
    benchmarks, info = compute.load(files, runs)
    rows = {r["arm"]: r for r in compute.compute_rows(benchmarks, info)}
    assert list(rows) == ["baseline", "dla", "total"]
    total = rows["total"]
    assert total["jobs"] == 4
    assert total["wall_h"] == pytest.approx((3600 + 360 + 1800 + 36) / 3600)
    assert total["cpu_h"] == pytest.approx((7200 + 300 + 1800 + 30) / 3600)
    # a training counts its 8 GPUs, an evaluation one
    assert rows["baseline"]["gpu_h"] == pytest.approx(8 + 0.1)
    assert total["gpu_h"] == pytest.approx(8 + 0.1 + 4 + 0.01)
    assert total["gpu_h"] == pytest.approx(sum(r["gpu_h"] for a, r in rows.items() if a != "total"))
    assert total["peak_rss_mb"] == 1200 and rows["dla"]["peak_rss_mb"] == 800
    assert rows["baseline"]["peak_gpu_mem_mb"] == 3900 and math.isnan(rows["dla"]["peak_gpu_mem_mb"])
    assert total["device"] == "NVIDIA H200"
    text = compute.compute_markdown(list(rows.values()))
    assert "| **total** | 4 |" in text and "8.100" in text


def test_cpu_runs_have_no_gpu_hours_and_name_the_cpu(tmp_path):
    files = [_tsv(tmp_path, "train", "dsl", 1, 100, 180, 500)]
    benchmarks, info = compute.load(files, [_run(tmp_path, "dsl", 1, gpus=0)])
    (row, total) = compute.compute_rows(benchmarks, info)
    assert row["gpu_h"] == 0 and math.isnan(row["peak_gpu_mem_mb"]) and row["device"] == "Test CPU"
    assert "n/a" in compute.compute_markdown([row, total])


def test_an_unsampled_job_counts_its_wall_time_and_leaves_cpu_unknown(tmp_path):
    path = _tsv(tmp_path, "evaluate", "dsl", 0, 10, "NA", "NA")
    (row, _) = compute.compute_rows([compute.read_benchmark(path)])
    assert row["wall_h"] == pytest.approx(10 / 3600) and math.isnan(row["cpu_h"]) and math.isnan(row["peak_rss_mb"])


def test_a_malformed_or_misplaced_file_is_one_error_naming_it(tmp_path):
    path = _tsv(tmp_path, "train", "dsl", 0, 10, 1, 1)
    path.write_text("s\tcpu_time\n12\t5\n")
    with pytest.raises(compute.ComputeError, match=r"seed0\.tsv: no column 'max_rss'"):
        compute.read_benchmark(path)
    path.write_text("s\tcpu_time\tmax_rss\n12\tabc\t1\n")
    with pytest.raises(compute.ComputeError, match=r"seed0\.tsv: cpu_time is 'abc', not a number"):
        compute.read_benchmark(path)
    other = tmp_path / "elsewhere.tsv"
    other.write_text(HEADER)
    with pytest.raises(compute.ComputeError, match="elsewhere.tsv: not at"):
        compute.read_benchmark(other)
