"""The conda environment for GPU clusters and the pip pins describe the same stack."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*-?\s*([A-Za-z0-9_.\-]+)==([^\s#]+)")


def _pins(lines):
    return {m.group(1).lower(): m.group(2) for m in map(PIN.match, lines) if m}


def test_environment_yml_pins_match_pinned_requirements():
    pinned = _pins((ROOT / "requirements" / "pinned.txt").read_text().splitlines())
    conda_lines = (ROOT / "environment.yml").read_text().splitlines()
    conda = _pins(conda_lines[conda_lines.index("  - pip:") + 1 :])
    assert pinned, "no pins parsed from requirements/pinned.txt"
    assert conda.pop("torch") == "2.13.0"
    assert conda == pinned


def test_setup_script_pins_torch_mmcv_and_mmdet():
    script = (ROOT / "scripts" / "setup_env.sh").read_text()
    assert "TORCH_SPEC:-torch==2.13.0" in script
    assert "MMCV_VERSION=2.1.0" in script
    assert '"mmdet==3.3.0"' in script


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    pinned = _pins((ROOT / "requirements" / "pinned.txt").read_text().splitlines())
    installed = {name: version(name) for name in pinned}
    assert installed == pinned
    assert version("torch").split("+")[0] == "2.13.0"
    assert version("mmcv") == "2.1.0"
    assert version("mmdet") == "3.3.0"


def _workflow_env_pins(name):
    lines = (ROOT / "workflow" / "envs" / name).read_text().splitlines()
    return _pins(lines) | {
        m.group(1).lower(): m.group(2)
        for m in map(re.compile(r"^\s*-\s*([A-Za-z0-9_.\-]+)=([^=\s#]+)").match, lines)
        if m
    }


def test_workflow_conda_envs_use_the_pinned_versions():
    pinned = _pins((ROOT / "requirements" / "pinned.txt").read_text().splitlines()) | {"mmdet": "3.3.0"}
    for name in ("dynrcnn.yaml", "analysis.yaml"):
        env = _workflow_env_pins(name)
        env.pop("python", None)
        env.pop("torch", None)
        assert env and all(pinned[k] == v for k, v in env.items()), (name, env)


def test_workflow_env_builds_mmcv_without_build_isolation():
    # in the env's pip list mmcv would build in isolation, without torch, and lose its compiled ops
    assert "mmcv" not in _workflow_env_pins("dynrcnn.yaml")
    script = ROOT / "workflow" / "envs" / "dynrcnn.post-deploy.sh"
    assert 'pip install --no-build-isolation "mmcv==2.1.0"' in script.read_text()
    assert script.stat().st_mode & 0o111
