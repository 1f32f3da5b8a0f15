"""dynrcnn.tools.commands: the tools' command lines, each accepted by the tool's own parser."""

import subprocess
import sys
from pathlib import Path

import pytest

from dynrcnn.tools import commands

REPO = Path(__file__).resolve().parents[2]


def test_train_command_on_one_process():
    cmd = commands.train_command(
        "configs/synthetic/dla.py",
        work_dir="w",
        run_dir="r",
        seed=3,
        data_root="d",
        threads=2,
        cfg_options=["a=1", "b=x y"],
        cfg_options_files=["e.json"],
        extra=["--tracking", "tensorboard"],
    )
    assert cmd == (
        ["python", "-m", commands.TRAIN, "configs/synthetic/dla.py", "--work-dir", "w", "--run-dir", "r"]
        + ["--seed", "3", "--data-root", "d", "--dataset", "synthetic", "--threads", "2", "--launcher", "none"]
        + ["--cfg-options", "a=1", "b=x y", "--cfg-options-file", "e.json", "--tracking", "tensorboard"]
    )
    assert commands.shell(cmd).endswith("--cfg-options a=1 'b=x y' --cfg-options-file e.json --tracking tensorboard")


def test_train_command_of_several_processes_is_torchrun_with_the_pytorch_launcher():
    prefix = ["env", "PYTHONPATH=/repo", "/bin/python"]
    cmd = commands.train_command(
        "c.py",
        work_dir="w",
        run_dir="r",
        seed=0,
        data_root="d",
        dataset="coco",
        processes=8,
        deterministic=True,
        python=prefix,
    )
    assert cmd[:7] == prefix + ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=8"]
    assert cmd[7:9] == ["-m", "dynrcnn.tools.train"] == ["-m", commands.TRAIN]
    assert cmd[-5:] == ["--threads", "1", "--launcher", "pytorch", "--deterministic"]
    assert cmd[cmd.index("--dataset") + 1] == "coco"
    assert "--cfg-options" not in cmd


def test_evaluate_and_detect_epochs_commands():
    assert commands.evaluate_command("r", family="f", arm="dla", variant="default", seed=1, out="r/m.json") == [
        "python", "-m", commands.EVALUATE, "--run-dir", "r", "--family", "f", "--arm", "dla",
        "--variant", "default", "--seed", "1", "--dataset", "synthetic", "--threads", "1", "--out", "r/m.json",
    ]  # fmt: skip
    assert commands.detect_epochs_command("r", out="o", max_images=20, threads=2) == [
        "python", "-m", commands.DETECT_EPOCHS, "--run-dir", "r", "--threads", "2", "--max-images", "20",
        "--out", "o",
    ]  # fmt: skip
    assert "--max-images" not in commands.detect_epochs_command("r", out="o")  # 0: every val image


def test_job_command_and_arguments():
    tool = commands.evaluate_command("r", family="f", arm="dla", variant="default", seed=1, python="/py")
    job = commands.job_command(tool, gpus=1, threads=4, python="/py")
    assert job[:8] == ["env", "OMP_NUM_THREADS=4", "/py", "-m", "dynrcnn.tools.gpu_slots", "--gpus", "1", "--"]
    assert job[8:] == tool
    assert commands.arguments(job) == tool[3:] and tool[3:5] == ["--run-dir", "r"]
    with pytest.raises(ValueError, match="not a train, evaluate or detect_epochs command"):
        commands.arguments(["python", "-m", "dynrcnn.tools.gpu_slots"])


@pytest.mark.parametrize(
    "module, command",
    [
        (
            "train",
            commands.train_command(
                "c.py", work_dir="w", run_dir="r", seed=0, data_root="d", processes=2, deterministic=True,
                cfg_options=["a=1"], cfg_options_files=["e.json"], extra=["--tracking", "tensorboard"],
            ),
        ),
        ("evaluate", commands.evaluate_command("r", family="f", arm="dla", variant="iou0.6", seed=1, out="m.json")),
        ("detect_epochs", commands.detect_epochs_command("r", out="o", max_images=3)),
    ],
)  # fmt: skip
def test_each_tool_parses_its_command(module, command, monkeypatch):
    """The builders and the tools' parsers agree (no input checks: the files need not exist)."""
    pytest.importorskip("mmengine")
    import importlib

    tool = importlib.import_module(f"dynrcnn.tools.{module}")
    if module == "train":
        monkeypatch.setattr(tool, "input_problem", lambda args: None)
        monkeypatch.setattr(tool, "read_cfg_options_file", lambda path: {"b": 2})
    args = tool.parse_args(commands.arguments(command))
    assert args.run_dir == "r"
    if module == "train":
        assert (args.seed, args.launcher, args.deterministic, args.tracking) == (0, "pytorch", True, ["tensorboard"])
        assert args.cfg_options == {"a": 1, "b": 2}


def test_printer_gives_one_argument_a_line():
    out = subprocess.run(
        [sys.executable, "-m", "dynrcnn.tools.commands", "--python", "/py", "--gpus", "1", "--lines", "train", "c.py"]
        + ["--work-dir", "w", "--run-dir", "r", "--seed", "0", "--data-root", "d", "--cfg-options", "a=1"],
        capture_output=True, text=True, cwd=REPO, check=True,
    ).stdout  # fmt: skip
    train = commands.train_command(
        "c.py", work_dir="w", run_dir="r", seed=0, data_root="d", cfg_options=["a=1"], python="/py"
    )
    expected = commands.job_command(train, gpus=1, python="/py")
    assert out.splitlines() == expected
