"""Small helpers shared by the train and evaluate tools: atomic writes and provenance records."""
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Dict, Optional

#: Distributions whose versions go into every metrics.json (missing ones are recorded as null).
PROVENANCE_PACKAGES = ('torch', 'mmcv', 'mmdet', 'mmengine', 'numpy', 'pycocotools', 'snakemake')


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash never leaves a partial file there.

    The text goes to a temporary file in the same directory, is flushed to disk, and then replaces ``path``
    with ``os.replace`` (atomic on POSIX within one file system).

    Args:
        path (str): Destination file; its directory is created if needed.
        text (str): Content.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str, obj) -> None:
    """``atomic_write_text`` of ``obj`` as indented JSON (NaN is refused: it is not JSON)."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + '\n')


def atomic_copy(src: str, dst: str) -> None:
    """Copy a text file atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(dst, Path(src).read_text())


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def package_versions(names=PROVENANCE_PACKAGES) -> Dict[str, Optional[str]]:
    """Installed versions of ``names`` plus the Python version.

    Returns:
        dict[str, str | None]: ``{name: version}``; None for a package that is not installed.
    """
    versions: Dict[str, Optional[str]] = {'python': platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(source_dir: Optional[str] = None) -> Optional[str]:
    """Commit of the source tree that holds this package, with ``-dirty`` when it has local changes.

    The pipeline may run in another working directory (``snakemake --directory``), so the commit is read from
    the checkout of the code, not from the current directory.

    Args:
        source_dir (str, optional): A directory inside the checkout. Defaults to this package's checkout.

    Returns:
        str | None: ``"<sha>"`` or ``"<sha>-dirty"``; None when the code is not in a git checkout.
    """
    source_dir = source_dir or str(Path(__file__).resolve().parents[2])
    try:
        sha = subprocess.run(['git', '-C', source_dir, 'rev-parse', 'HEAD'], capture_output=True, text=True,
                             check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(['git', '-C', source_dir, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f'{sha}-dirty' if dirty else sha
