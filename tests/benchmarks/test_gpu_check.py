"""The GPU check's parts that run without a GPU: the wheel folder's requirements and verification, the dry run of
benchmarks/gpu_check.sh, and the parsing of the figures it reports. No network: the wheel folders are built here
from fake wheels (metadata only) of the real requirement set."""

import importlib.util
import io
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from dynrcnn.tools import commands  # the pipeline's command lines, which the GPU check runs

REPO = Path(__file__).resolve().parents[2]
GPU_CHECK = REPO / "benchmarks" / "gpu_check.sh"
PREPARE = REPO / "scripts" / "prepare_gpu_wheels.sh"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_wheels = _load("gpu_wheels", REPO / "scripts" / "gpu_wheels.py")
gpu_check_results = _load("gpu_check_results", REPO / "benchmarks" / "gpu_check_results.py")


def fake_wheel(folder, name, version, tag="py3-none-any", requires=()):
    """A wheel that holds only its metadata: enough for pip to resolve it."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    path = Path(folder) / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as whl:
        whl.writestr(f"{info}/METADATA", metadata)
        whl.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n")
        whl.writestr(f"{info}/RECORD", "")
    return path


def fake_mmcv_sdist(folder):
    path = Path(folder) / "mmcv-2.1.0.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"from setuptools import setup\n"
        info = tarfile.TarInfo("mmcv-2.1.0/setup.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def version_for(requirement):
    """A version that satisfies ``requirement`` (the pins' and the build tools' forms)."""
    if "==" in requirement:
        return requirement.split("==", 1)[1].split(",")[0].strip()
    if ">=" in requirement:
        return requirement.split(">=", 1)[1].split(",")[0].strip()
    return "1.0"


def make_folder(folder, profile="full", provided_file=None, skip=(), tags=None, requires=None):
    """A wheel folder for Python 3.12 with one fake wheel per requirement of ``profile``, and its manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    provided = gpu_wheels.read_provided(provided_file)
    for requirement in gpu_wheels.requirement_set(profile, provided):
        name = gpu_wheels.requirement_name(requirement)
        if name in skip:
            continue
        tag = (tags or {}).get(name, "py3-none-any")
        fake_wheel(folder, name, version_for(requirement), tag=tag, requires=(requires or {}).get(name, ()))
    fake_mmcv_sdist(folder)
    args = ["manifest", str(folder), "--python-version", "3.12", "--profile", profile]
    if provided_file:
        args += ["--provided", str(provided_file)]
    assert gpu_wheels.main(args) == 0
    return folder


def dry_run(tmp_path, wheels, *extra):
    command = ["bash", str(GPU_CHECK), "--dry-run", "--python", sys.executable, "--wheels", str(wheels)]
    command += ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"), *extra]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)


# --------------------------------------------------------------------------------------------- requirement set


def test_requirement_set_holds_every_pin_mmdet_and_the_build_tools_never_torch():
    full = gpu_wheels.requirement_set("full", gpu_wheels.read_provided(None))
    for pin in gpu_wheels.read_pins():
        assert pin in full
    assert "mmdet==3.3.0" in full and "setuptools>=77,<81" in full and "wheel" in full and "ninja" in full
    names = [gpu_wheels.requirement_name(r) for r in full]
    assert "torch" not in names and len(names) == len(set(names))
    # the pins win over mmcv's looser runtime requirements
    assert "numpy==1.26.4" in full and "numpy" not in full and "mmengine>=0.3.0" not in full


def test_check_profile_leaves_out_the_workflow_and_provided_packages(tmp_path):
    provided_file = tmp_path / "provided.txt"
    provided_file.write_text("# comment\nscipy\nopencv-python cv2  # headless there\n")
    provided = gpu_wheels.read_provided(provided_file)
    assert {"name": "opencv-python", "module": "cv2"} in provided and {"name": "torch", "module": "torch"} in provided
    check = [gpu_wheels.requirement_name(r) for r in gpu_wheels.requirement_set("check", provided)]
    assert "snakemake" not in check and "pandas" not in check
    assert "scipy" not in check and "opencv-python" not in check
    assert {"numpy", "mmengine", "mmdet", "pycocotools", "setuptools"} <= set(check)


def test_h200_image_list_keeps_scipy_and_numpy_in_the_folder():
    # the image's scipy 1.18 needs numpy 2 (np.long) and cannot import beside the folder's numpy 1.26 (seen on the
    # lent H200 machine, benchmarks/results/2026-12-04_gpu_check_h200.txt)
    provided = gpu_wheels.read_provided(REPO / "scripts" / "gpu_provided_cuda_image.txt")
    check = [gpu_wheels.requirement_name(r) for r in gpu_wheels.requirement_set("check", provided)]
    assert "scipy" in check and "numpy" in check
    assert "torch" not in check and "matplotlib" not in check


def test_strip_tests_drops_test_folders_and_their_record_lines(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    files = {
        "pkg/__init__.py": "x = 1\n",
        "pkg/tests/test_x.py": "def test(): pass\n" * 2000,
        "pkg/sub/tests/data.bin": "0" * 50000,
        "pkg/testsuite.py": "kept\n",
    }
    record = "".join(f"{name},sha256=abc,1\n" for name in files) + "pkg-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr("pkg-1.0.dist-info/RECORD", record)
    saved = gpu_wheels.strip_tests(wheel)
    assert saved > 0
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        kept_record = zf.read("pkg-1.0.dist-info/RECORD").decode()
    assert names == {"pkg/__init__.py", "pkg/testsuite.py", "pkg-1.0.dist-info/RECORD"}
    assert "tests/" not in kept_record and "pkg/testsuite.py" in kept_record and "pkg/__init__.py" in kept_record


def test_platform_tags_cover_older_manylinux_and_legacy_names():
    tags = gpu_wheels.platform_tags("2.28")
    assert tags[0] == "manylinux_2_28_x86_64"
    assert {"manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_31_x86_64" not in tags
    with pytest.raises(ValueError):
        gpu_wheels.platform_tags("1.9")


# ------------------------------------------------------------------------------------------------- the dry run


def test_dry_run_checks_the_folder_and_prints_the_commands_it_would_run(tmp_path):
    wheels = make_folder(tmp_path / "wheels", tags={"numpy": "cp312-cp312-manylinux_2_17_x86_64"})
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout
    assert "pip resolves all" in out and "Python 3.12" in out
    expected = [
        "pip --isolated --disable-pip-version-check install --no-index --no-deps",
        "MMCV_WITH_OPS=1 FORCE_CUDA=1 'TORCH_CUDA_ARCH_LIST=<gpu-compute-capability>'",
        "--no-build-isolation",
        "mmcv-2.1.0.tar.gz",
        "-m pytest -q -p no:cacheprovider -o addopts= tests/test_stack.py",
        "benchmarks/gpu_stack_check.py --device cuda",
        "benchmarks/bench_roi_head.py --device cuda --depth 50 --base-channels 64 --image-size 800 --batch-size 2",
        "-m dynrcnn.data.synthetic --out",
        "-m dynrcnn.tools.gpu_slots --gpus 1 --",
        f"-m {commands.TRAIN} configs/synthetic/dynamic_rcnn.py",
        "--cfg-options train_cfg.max_epochs=2",
        f"-m {commands.EVALUATE} --run-dir",
        "dry run done: all checks passed",
    ]
    for text in expected:
        assert text in out, text
    # everything printed is in the summary file too
    assert "dry run done: all checks passed" in (tmp_path / "out" / "summary.txt").read_text()
    # nothing was installed, built or trained
    assert not (tmp_path / "work").exists()


def test_dry_run_of_the_build_stage_stops_after_the_build(tmp_path):
    wheels = make_folder(tmp_path / "wheels", profile="check")
    proc = dry_run(tmp_path, wheels, "--stage", "build")
    assert proc.returncode == 0, proc.stdout
    assert "mmcv-2.1.0.tar.gz" in proc.stdout and "bench_roi_head.py" not in proc.stdout


def test_dry_run_fails_naming_a_requirement_the_folder_lacks(tmp_path):
    wheels = make_folder(tmp_path / "wheels", skip={"pycocotools"})
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode != 0, proc.stdout
    assert "no wheel in the folder for pycocotools==2.0.8" in proc.stdout
    assert "dry run done: FAILED" in proc.stdout


def test_dry_run_fails_naming_a_missing_dependency_of_a_wheel(tmp_path):
    # mmdet needs 'six', which is no top-level requirement and is not in the folder
    wheels = make_folder(tmp_path / "wheels", requires={"mmdet": ["six>=1.16"]})
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode != 0, proc.stdout
    assert "no wheel in the folder for six>=1.16" in proc.stdout


def test_provided_packages_satisfy_dependencies_without_being_in_the_folder(tmp_path):
    provided_file = tmp_path / "provided.txt"
    provided_file.write_text("six\n")
    wheels = make_folder(tmp_path / "wheels", provided_file=provided_file, requires={"mmdet": ["six>=1.16"]})
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode == 0, proc.stdout
    assert "taken as present on the GPU machine: six" in proc.stdout


def test_dry_run_fails_for_wheels_of_another_python(tmp_path):
    wheels = make_folder(tmp_path / "wheels", tags={"numpy": "cp311-cp311-manylinux_2_17_x86_64"})
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode != 0, proc.stdout
    assert "no wheel in the folder for numpy==1.26.4 (Python 3.12" in proc.stdout


def test_dry_run_fails_for_a_file_the_manifest_lists_but_the_folder_lacks(tmp_path):
    wheels = make_folder(tmp_path / "wheels")
    next(wheels.glob("shapely-*.whl")).unlink()
    (wheels / "mmcv-2.1.0.tar.gz").unlink()
    proc = dry_run(tmp_path, wheels)
    assert proc.returncode != 0, proc.stdout
    assert "missing file shapely-2.0.6-py3-none-any.whl (listed in manifest.json)" in proc.stdout
    assert "missing mmcv-2.1.0.tar.gz" in proc.stdout


def test_dry_run_fails_without_a_wheel_folder(tmp_path):
    proc = dry_run(tmp_path, tmp_path / "nowhere")
    assert proc.returncode != 0
    assert "manifest.json not found" in proc.stdout


def test_verify_refuses_two_versions_of_one_package(tmp_path):
    wheels = make_folder(tmp_path / "wheels")
    fake_wheel(wheels, "addict", "2.3.0")
    assert gpu_wheels.main(["manifest", str(wheels), "--python-version", "3.12"]) == 0
    with pytest.raises(gpu_wheels.FolderError, match=r"addict: 2 versions"):
        gpu_wheels.verify(wheels, quiet=True)
    with pytest.raises(gpu_wheels.FolderError, match=r"for Python 3.12, not 3.11"):
        gpu_wheels.verify(wheels, python_version="3.11", quiet=True)


def test_provided_check_names_a_package_the_machine_cannot_import(tmp_path, capsys):
    wheels = make_folder(tmp_path / "wheels")
    manifest = json.loads((wheels / "manifest.json").read_text())
    manifest["provided"] = [{"name": "json", "module": "json"}, {"name": "nope", "module": "no_such_module_xyz"}]
    (wheels / "manifest.json").write_text(json.dumps(manifest))
    assert gpu_wheels.main(["provided", str(wheels)]) == 1
    captured = capsys.readouterr()
    assert "provided: json" in captured.out
    assert "nope (import no_such_module_xyz: ModuleNotFoundError" in captured.err


def test_a_run_on_a_machine_whose_torch_lacks_cuda_stops_with_a_clear_message(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.version.cuda is not None:
        pytest.skip("this torch is a CUDA build")
    command = ["bash", str(GPU_CHECK), "--skip-install", "--python", sys.executable]
    command += ["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work")]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout
    assert f"ERROR: torch {torch.__version__} is a CPU build" in proc.stdout
    assert "preflight  FAIL" in proc.stdout and "== mmcv" not in proc.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["steps"]["preflight"].startswith("FAIL")


def test_scripts_parse_and_print_their_usage():
    for script in (GPU_CHECK, PREPARE):
        subprocess.run(["bash", "-n", str(script)], check=True)
        usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True, check=True).stdout
        assert "--python-version" in usage or "--dry-run" in usage
    bad = subprocess.run(["bash", str(GPU_CHECK), "--stage", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--stage must be" in bad.stderr


# ------------------------------------------------------------------------------------------------- the figures

BENCH_OUTPUT = """\
device=cuda depth=50 base_channels=64 image=800 batch=2 iters=100 interval=5 threads=1
training step  AblationRoIHead  median     81.20 ms (min 79.00, max 90.10)
training step  StandardRoIHead  median     80.90 ms (min 78.80, max 89.70)
training step  DynamicRoIHead   median     83.40 ms (min 80.00, max 92.00)
training step  ratio Ablation/Standard = 1.0037 (medians), 1.0031 (median of paired ratios, 95% bootstrap \
interval [0.9990, 1.0071]); target <= 1.01: met
training step  ratio Ablation/Dynamic  = 0.9736 (medians), 0.9741 (median of paired ratios, 95% bootstrap \
interval [0.9700, 0.9790]); target <= 1.00: met
roi_head.loss  ratio Ablation/Standard = 1.0500 (medians), 1.0400 (median of paired ratios, 95% bootstrap \
interval [1.0200, 1.0600]); target <= 1.01: MISSED
AblationRoIHead  host reads in roi_head.loss: non-update iterations [0, 0, 0, 0] (extra over Standard \
[0, 0, 0, 0]), update iteration 2
DynamicRoIHead   host reads in roi_head.loss: non-update iterations [3, 3, 3, 3] (extra over Standard \
[3, 3, 3, 3]), update iteration 5
"""


def test_bench_figures_are_read_from_the_benchmark_output():
    figures = gpu_check_results.bench_figures(BENCH_OUTPUT)
    assert figures["setup"].startswith("device=cuda depth=50")
    first, second, third = figures["ratios"]
    assert first["reference"] == "StandardRoIHead" and first["paired_median"] == 1.0031
    assert first["interval95"] == [0.9990, 1.0071] and first["target"] == 1.01 and first["verdict"] == "met"
    assert second["reference"] == "DynamicRoIHead" and second["interval95"] == [0.97, 0.979]
    assert third["timed"] == "roi_head.loss" and third["verdict"] == "MISSED"
    assert figures["median_ms"]["training step"]["DynamicRoIHead"] == 83.4
    assert figures["host_reads"]["DynamicRoIHead"] == {
        "non_update": [3, 3, 3, 3],
        "extra_over_standard": [3, 3, 3, 3],
        "update": 5,
    }
    lines = "\n".join(gpu_check_results.bench_lines(figures))
    assert "Ablation/Standard 1.0031 [0.9990, 1.0071] target <= 1.01: met" in lines


def test_final_block_and_results_json_from_a_finished_check(tmp_path, capsys):
    work = tmp_path / "work"
    run_dir = work / "train" / "run"
    run_dir.mkdir(parents=True)
    (work / "bench_roi_head.log").write_text(BENCH_OUTPUT)
    (work / "mmcv-build-status").write_text("built 312 16 9.0\n")
    (run_dir / "train_manifest.json").write_text(json.dumps({"device": "NVIDIA H200", "wall_time_s": 40.0}))
    rows = [
        {"lr": 0.02, "loss": 1.0, "time": 0.05, "data_time": 0.004, "iter": 5, "step": 5},
        {"lr": 0.02, "loss": 0.9, "time": 0.07, "data_time": 0.006, "iter": 600, "step": 600},
        {"dynrcnn/iou_thr": 0.4, "dynrcnn/beta": 1.0, "step": 5},
        {"dynrcnn/iou_thr": 0.55, "dynrcnn/beta": 0.4, "step": 600},
    ]
    (run_dir / "scalars.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "metrics.json").write_text(json.dumps({"metrics": {"AP50": 0.612, "AP": 0.31}}))
    out = tmp_path / "results.json"
    args = ["final", "--out", str(out), "--work", str(work), "--total-seconds", "500"]
    assert gpu_check_results.main(args + ["--status", "mmcv=PASS (312 s)", "--status", "train=PASS (80 s)"]) == 0
    printed = capsys.readouterr().out
    assert "mmcv 2.1.0 CUDA build: built in 312 s, MAX_JOBS=16, arch 9.0" in printed
    assert "training on NVIDIA H200: 600 iterations (last logged), 16.67 it/s" in printed
    assert "15.00 it/s over the whole training" in printed
    assert "AP50 61.2" in printed and "IoU threshold 0.400 -> 0.550" in printed
    results = json.loads(out.read_text())
    assert results["train"]["AP50"] == 0.612 and results["steps"]["mmcv"] == "PASS (312 s)"
    assert results["bench"]["ratios"][0]["paired_median"] == 1.0031


BUILD_LOG = """\
  running build_ext
  /usr/local/lib/python3.12/site-packages/torch/utils/cpp_extension.py:500: UserWarning: treating -Werror: no
  [1/176] c++ -MMD -MF build/temp/mmcv/ops/csrc/pytorch/nms.o.d -std=c++17 -c nms.cpp
  [2/176] /usr/local/cuda/bin/nvcc -std=c++17 -gencode=arch=compute_90,code=sm_90 -c nms_cuda.cu
  FAILED: build/temp/mmcv/ops/csrc/pytorch/cuda/roi_align_cuda.o
  /usr/local/cuda/bin/nvcc -std=c++17 -gencode=arch=compute_90,code=sm_90 -c roi_align_cuda.cu
  mmcv/ops/csrc/common/cuda/common_cuda_helper.hpp(12): error: identifier "THCCeilDiv" is undefined
        return THCCeilDiv(N, 512);
               ^
  1 error detected in the compilation of "roi_align_cuda.cu".
  ninja: build stopped: subcommand failed.
  error: subprocess-exited-with-error
"""


def test_first_error_of_a_failed_build_is_the_compilers(tmp_path):
    lines = gpu_check_results.first_error(BUILD_LOG)
    assert lines[0] == "the compiler's first error (log line 7):"
    assert 'error: identifier "THCCeilDiv" is undefined' in lines[3]
    assert lines[-1].startswith("first failed build step: FAILED: build/temp/mmcv/ops/csrc/pytorch/cuda/roi_align")
    gcc = "x\nfoo.cpp:3:10: fatal error: cuda_runtime.h: No such file or directory\n"
    assert "fatal error: cuda_runtime.h" in "\n".join(gpu_check_results.first_error(gcc))
    log = tmp_path / "build.log"
    log.write_text("Traceback (most recent call last):\nModuleNotFoundError: No module named 'pkg_resources'\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "gpu_check_results.py"), "first-error", str(log)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "no compiler 'error:' line in the log" in proc.stdout and "pkg_resources" in proc.stdout
