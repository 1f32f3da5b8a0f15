"""Mixed provenance (analysis.provenance_flags): fake runs from two commits, two package versions, two CPU models
and two resolved configs within one arm are flagged, each with the comparisons it enters."""

from analysis.provenance_flags import config_fingerprint, flag_runs, render_notice
from analysis.runs import load_runs
from tests.analysis import fake_runs

COMMIT_A, COMMIT_B = "a" * 40, "b" * 40
CONFIG = "model = dict(type='FasterRCNN')\noptim_wrapper = dict(optimizer=dict(lr={lr}))\n"
CONFIG += "randomness = dict(deterministic=False, seed={seed})\nwork_dir = 'results/work/synthetic/{arm}/seed{seed}'\n"


def _write(root, arm, seed, variant="default", lr=0.02, **provenance):
    hyper = {"iou_topk": 50, "beta_topk": 10, "update_iter_interval": 100} if variant != "default" else None
    folder = fake_runs.write_run(
        root, arm, seed, 0.3 + 0.01 * seed, variant=variant, hyperparameters=hyper, provenance=provenance
    )
    (folder / "config.py").write_text(CONFIG.format(lr=lr, seed=seed, arm=arm))
    return folder


def _load(root):
    metrics, scalars, _ = fake_runs.run_files(root)
    return load_runs(metrics, scalars)


def test_runs_from_two_commits_are_flagged_with_their_comparisons(tmp_path):
    root = tmp_path / "runs" / "synthetic"
    for seed in (0, 1, 2):
        _write(root, "baseline", seed, git_commit=COMMIT_A)
        _write(root, "dla", seed, git_commit=COMMIT_B if seed == 2 else COMMIT_A)
    flags = flag_runs(_load(root))
    assert [f.run for f in flags] == ["dla/default/seed2"]
    assert flags[0].fields == {"git_commit": (COMMIT_B, COMMIT_A)}
    assert flags[0].comparisons == ["dla vs baseline (AP gains)"]
    notice = render_notice(flags)
    assert notice.startswith("**Mixed provenance: 1 run differ")
    assert f"`dla/default/seed2`: git commit {COMMIT_B} (others {COMMIT_A}). Enters: dla vs baseline (AP gains)." in (
        notice
    )


def test_a_flagged_baseline_enters_every_gain(tmp_path):
    root = tmp_path / "runs" / "synthetic"
    for arm in ("baseline", "dla", "dsl"):
        for seed in (0, 1):
            odd = arm == "baseline" and seed == 1
            _write(root, arm, seed, packages={"mmdet": "3.3.0", "torch": "2.5.0" if odd else "2.4.1"})
    flags = flag_runs(_load(root))
    assert [f.run for f in flags] == ["baseline/default/seed1"]
    assert flags[0].fields == {"packages": ("torch 2.5.0", "torch 2.4.1")}
    assert flags[0].comparisons == ["dla vs baseline (AP gains)", "dsl vs baseline (AP gains)"]


def test_cpu_model_and_resolved_config_within_an_arm(tmp_path):
    root = tmp_path / "runs" / "synthetic"
    for seed in (0, 1, 2):
        _write(root, "baseline", seed, cpu_model="CPU X" if seed == 0 else "CPU Y")
        _write(root, "dynamic_rcnn", seed, lr=0.01 if seed == 1 else 0.02, cpu_model="CPU Y")
    runs = _load(root)
    # the seed and the work dir differ by design and are not compared
    assert config_fingerprint(runs[0]) == config_fingerprint(runs[2])
    flags = {f.run: f for f in flag_runs(runs)}
    assert sorted(flags) == ["baseline/default/seed0", "dynamic_rcnn/default/seed1"]
    assert flags["baseline/default/seed0"].fields == {"cpu_model": ("CPU X", "CPU Y")}
    assert set(flags["dynamic_rcnn/default/seed1"].fields) == {"config"}
    assert flags["dynamic_rcnn/default/seed1"].comparisons == ["dynamic_rcnn vs baseline (AP gains)"]


def test_sweep_variant_comparison_and_no_notice_when_all_agree(tmp_path):
    root = tmp_path / "runs" / "synthetic"
    for seed in (0, 1):
        _write(root, "baseline", seed)
        _write(root, "dla", seed)
    assert flag_runs(_load(root)) == [] and render_notice([]) == ""
    _write(root, "dla", 0, variant="ki50-kb10-c100", device="NVIDIA H100")
    flags = flag_runs(_load(root))
    assert [f.run for f in flags] == ["dla/ki50-kb10-c100/seed0"]
    assert flags[0].fields == {"device": ("NVIDIA H100", "cpu")}
    assert flags[0].comparisons == ["dla ki50-kb10-c100 vs dla default (sweep)"]


def test_the_full_arm_enters_the_additivity_comparisons(tmp_path):
    root = tmp_path / "runs" / "synthetic"
    for arm in ("baseline", "dla", "dsl", "dynamic_rcnn"):
        for seed in (0, 1, 2):
            _write(root, arm, seed, device="NVIDIA H100" if (arm, seed) in (("dynamic_rcnn", 0), ("dsl", 1)) else "cpu")
    flags = {f.run: f for f in flag_runs(_load(root))}
    assert flags["dynamic_rcnn/default/seed0"].comparisons == [
        "dynamic_rcnn vs baseline (AP gains)",
        "dynamic_rcnn vs dla (additivity)",
        "dynamic_rcnn vs dsl (additivity)",
    ]
    assert flags["dsl/default/seed1"].comparisons == ["dsl vs baseline (AP gains)", "dynamic_rcnn vs dsl (additivity)"]
