"""Provenance of a result: the code's git commit, the installed package versions, a file's SHA-256."""

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: Distributions whose versions go into every metrics.json (missing ones are recorded as null).
PROVENANCE_PACKAGES = ("torch", "mmcv", "mmdet", "mmengine", "numpy", "pycocotools", "snakemake")


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions(names=PROVENANCE_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``names`` plus the Python version.

    Returns:
        dict[str, str | None]: ``{name: version}``; None for a package that is not installed.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(source_dir: str | None = None) -> str | None:
    """Commit of the source tree that holds this package, with ``-dirty`` when it has local changes.

    The pipeline may run in another working directory (``snakemake --directory``), so the commit is read from
    the checkout of the code, not from the current directory.

    Args:
        source_dir (str, optional): A directory inside the checkout. Defaults to this package's checkout.

    Returns:
        str | None: ``"<sha>"`` or ``"<sha>-dirty"``; None when the code is not in a git checkout.
    """
    source_dir = source_dir or str(Path(__file__).resolve().parents[1])
    try:
        sha = subprocess.run(
            ["git", "-C", source_dir, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", source_dir, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s first ``model name``; ``platform.processor()`` elsewhere).

    Floating-point results of a CPU run depend on it: another CPU type gives other numbers for the same seed.

    Returns:
        str: e.g. ``"Intel(R) Xeon(R) Processor @ 2.80GHz"``; ``"unknown"`` when nothing says.
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_provenance() -> dict[str, str]:
    """What decides a CPU run's floating-point results besides the code and the seed.

    Returns:
        dict[str, str]: ``cpu_model`` (:func:`cpu_model`) and ``cpu_capability``, the instruction set torch's CPU
        kernels dispatch to (``torch.backends.cpu.get_cpu_capability()``: ``"AVX2"``, ``"AVX512"``, ...).
    """
    import torch

    return dict(cpu_model=cpu_model(), cpu_capability=str(torch.backends.cpu.get_cpu_capability()))
