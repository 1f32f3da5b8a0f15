"""Dry runs of the release targets: `export` and `verify` need every run evaluated and are not part of the default
target; every train, evaluate and epoch_detections job writes its benchmark file."""


def test_export_and_verify_wait_for_every_evaluation(tmp_path, smk):
    config = smk.configs / "default.yaml"
    for target in ("export", "verify"):
        proc = smk.run(tmp_path, "-n", "--cores", "1", target, configfiles=[config], check=True)
        counts = smk.job_counts(proc.stdout)
        assert counts == {"synthetic_data": 1, "train": 16, "evaluate": 16, target: 1}, proc.stdout[-3000:]
    proc = smk.run(tmp_path, "-n", "--cores", "1", configfiles=[config], check=True)
    assert "export" not in smk.job_counts(proc.stdout) and "verify" not in smk.job_counts(proc.stdout)


def test_every_job_writes_a_benchmark_file(tmp_path, smk):
    proc = smk.run(tmp_path, "-n", "--cores", "1", configfiles=[smk.configs / "default.yaml"], check=True)
    lines = proc.stdout.splitlines()
    rules = [line.split()[1].rstrip(":") for line in lines if line.startswith(("rule ", "localrule "))]
    benchmarks = [line.split(":", 1)[1].strip() for line in lines if line.strip().startswith("benchmark:")]
    expected = rules.count("train") + rules.count("evaluate") + rules.count("epoch_detections")
    assert expected == 16 + 16 + 4 and len(benchmarks) == expected
    assert all(b.startswith("results/benchmarks/") and b.endswith(".tsv") for b in benchmarks)
