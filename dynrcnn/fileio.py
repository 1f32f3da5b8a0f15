"""Atomic file writes (standard library only): a crash never leaves a partial file behind."""

import json
import os
import shutil
import tempfile
from pathlib import Path


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash never leaves a partial file there.

    The text goes to a temporary file in the same directory, is flushed to disk, and then replaces ``path`` with
    ``os.replace`` (atomic on POSIX within one file system).

    Args:
        path (str | Path): Destination file; its directory is created if needed.
        text (str): Content.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj) -> None:
    """:func:`atomic_write_text` of ``obj`` as indented JSON (NaN is refused: it is not JSON)."""
    atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def atomic_copy(src, dst) -> None:
    """Copy a text file atomically (see :func:`atomic_write_text`)."""
    atomic_write_text(dst, Path(src).read_text())


def replace_dir(src, dst) -> None:
    """Put the complete folder ``src`` in place of ``dst`` (same file system), removing the old ``dst`` last.

    ``dst`` is first renamed aside, so at every moment either the old or the new folder is complete under some
    name; a crash between the two renames leaves ``{dst}.old-*`` to be deleted by hand.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    old = None
    if os.path.exists(dst):
        old = tempfile.mkdtemp(prefix=f"{os.path.basename(dst)}.old-", dir=os.path.dirname(dst) or ".")
        os.rename(dst, os.path.join(old, "content"))
    os.rename(src, dst)
    if old:
        shutil.rmtree(old)
