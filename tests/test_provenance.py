import re
import subprocess
from pathlib import Path

from dynrcnn.provenance import git_commit, package_versions, sha256_file

REPO = Path(__file__).resolve().parents[1]


def test_package_versions_and_commit():
    versions = package_versions(("numpy", "surely-not-installed-pkg"))
    assert versions["numpy"] and versions["surely-not-installed-pkg"] is None and versions["python"]
    commit = git_commit()
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}(-dirty)?", commit)


def test_commit_is_read_from_the_checkout_of_the_code():
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        return  # the code is not in a git checkout (e.g. an sdist): nothing to compare with
    assert git_commit().split("-")[0] == head.stdout.strip()


def test_commit_outside_a_checkout_is_none(tmp_path):
    assert git_commit(str(tmp_path)) is None


def test_sha256_file(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
