"""Config files that cannot be read: one line naming the file, the line and the fix (dynrcnn.pipeline.load and
`python -m dynrcnn.pipeline`, which `make run CONFIG=...` runs before Snakemake reads the files)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dynrcnn.pipeline import PipelineConfigError, load

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text, message",
    [
        ("arms: [dla\nseeds: [0]\n", r", line 2, column 6: not valid YAML \(expected ',' or '\]', but got ':', while "
         r"parsing a flow sequence started at line 1\); fix the syntax there"),
        ("train:\n  max_epochs: 2\n deterministic: true\n", r", line 3, column 2: not valid YAML \(expected <block "
         r"end>, but found '<block mapping start>', while parsing a block mapping started at line 1\); fix the "
         r"syntax there"),
        ("arms:\n\t- dla\n", r", line 2, column 1: not valid YAML \(found character '\\t' that cannot start any "
         r"token\); fix the syntax there"),
        ("- dla\n", r": holds a list, not a mapping of keys; write the config as 'key: value' lines"),
    ],
)  # fmt: skip
def test_a_bad_file_is_one_line_naming_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(PipelineConfigError, match=rf"^{path}{message}") as exc:
        load(REPO / "configs" / "pipeline" / "tiny.yaml", path)
    assert "\n" not in str(exc.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(PipelineConfigError, match=rf"^{tmp_path}/nope.yaml: no such config file; check the path"):
        load(tmp_path / "nope.yaml")


def test_an_empty_file_is_an_empty_config(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    assert load(tmp_path / "empty.yaml") == {}


def _cli(*args, cwd=REPO):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "dynrcnn.pipeline", *args], capture_output=True, text=True, env=env)


def test_the_command_line_check(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("arms: [dla\n")
    proc = _cli(str(REPO / "configs" / "pipeline" / "tiny.yaml"), str(bad))
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"Invalid pipeline config: {bad}, line 2, column 1: not valid YAML")
    proc = _cli(str(tmp_path / "missing.yaml"))
    assert proc.returncode == 1 and proc.stderr.splitlines() == [
        f"Invalid pipeline config: {tmp_path}/missing.yaml: no such config file; check the path (the project's "
        "pipeline configs are in configs/pipeline/)"
    ]
    (tmp_path / "bad_key.yaml").write_text("arms: [dla]\nseeds: [-1]\n")
    proc = _cli(str(tmp_path / "bad_key.yaml"))
    assert proc.returncode == 1 and proc.stderr.startswith("Invalid pipeline config: seeds[0]: -1 is less than")
    proc = _cli(str(REPO / "configs" / "pipeline" / "tiny.yaml"))
    assert proc.returncode == 0, proc.stderr


def _stand_in_venv(tmp_path):
    """A venv for the Makefile: its python is this one; its snakemake writes its arguments to snakemake_args."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (venv / "bin" / "snakemake").write_text(f'#!/bin/sh\necho "$@" > {tmp_path / "snakemake_args"}\n')
    for script in ("python", "snakemake"):
        (venv / "bin" / script).chmod(0o755)
    return venv


@pytest.mark.parametrize("name, text", [("bad.yaml", "arms: [dla\n"), ("missing.yaml", None)])
def test_make_run_checks_the_config_files_before_snakemake(tmp_path, name, text):
    """`make run CONFIG=...`: the one line, and Snakemake never starts (it would print its own error or traceback).
    The Makefile runs a stand-in venv (never the real pipeline)."""
    venv = _stand_in_venv(tmp_path)
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    proc = subprocess.run(
        ["make", "-C", str(REPO), "run", f"CONFIG={path}", f"VENV={venv}", "-o", f"{venv}/.setup-complete"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert not (tmp_path / "snakemake_args").exists()
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("make")]  # make's "Error 1" line
    assert len(lines) == 1 and lines[0].startswith(f"Invalid pipeline config: {path}")


def test_make_run_with_a_good_config_runs_snakemake_with_it(tmp_path):
    venv = _stand_in_venv(tmp_path)
    config = REPO / "configs" / "pipeline" / "tiny.yaml"
    proc = subprocess.run(
        [
            "make",
            "-C",
            str(REPO),
            "run",
            f"CONFIG={config}",
            "ARGS=-n",
            f"VENV={venv}",
            "-o",
            f"{venv}/.setup-complete",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "snakemake_args").read_text().split() == ["--cores", "all", "--configfile", str(config), "-n"]
