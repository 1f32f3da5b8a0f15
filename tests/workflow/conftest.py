"""Helpers for the workflow tests: run the real `snakemake` command on a scratch working directory."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PIPELINE_CONFIGS = REPO / "configs" / "pipeline"


def run_snakemake(workdir, *args, configfiles=(), timeout=600, check=False, snakefile=None):
    """Run snakemake on the repository's Snakefile (or ``snakefile``) with ``workdir`` as working directory.

    Returns:
        subprocess.CompletedProcess: with stdout and stderr merged in ``stdout``.
    """
    cmd = [SNAKEMAKE, "-s", str(snakefile or REPO / "Snakefile"), "--directory", str(workdir)]
    if configfiles:
        cmd += ["--configfile", *[str(c) for c in configfiles]]
    cmd += list(args)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-5000:]}")
    return proc


def job_counts(output):
    """The 'Job stats' table of a snakemake (dry) run as {rule: count}."""
    counts, in_table = {}, False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table = True
            continue
        if in_table:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    break
                counts[parts[0]] = int(parts[1])
    return counts


def write_config(path, base=None, **overrides):
    """Write a pipeline config: ``base`` (a file under configs/pipeline) updated with ``overrides``."""
    config = yaml.safe_load((PIPELINE_CONFIGS / base).read_text()) if base else {}
    config.update(overrides)
    path.write_text(yaml.safe_dump(config))
    return path


class _Snakemake:
    """The helpers above, handed to tests as the ``smk`` fixture (test modules cannot import conftest under
    --import-mode=importlib)."""

    repo = REPO
    configs = PIPELINE_CONFIGS
    run = staticmethod(run_snakemake)
    job_counts = staticmethod(job_counts)
    write_config = staticmethod(write_config)


@pytest.fixture
def smk():
    return _Snakemake
