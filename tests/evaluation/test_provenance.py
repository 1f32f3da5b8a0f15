import json
import os
import re

import pytest

from dynrcnn.evaluation import provenance
from dynrcnn.evaluation.provenance import atomic_write_json, atomic_write_text, git_commit, package_versions


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / 'sub' / 'metrics.json'
    atomic_write_json(str(path), {'a': 1})
    atomic_write_json(str(path), {'a': 2})
    assert json.loads(path.read_text()) == {'a': 2}
    assert os.listdir(path.parent) == ['metrics.json']


def test_failed_write_keeps_previous_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / 'metrics.json'
    atomic_write_text(str(path), 'complete\n')

    def fail(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(provenance.os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        atomic_write_text(str(path), 'partial')
    assert path.read_text() == 'complete\n'
    assert os.listdir(tmp_path) == ['metrics.json']


def test_nan_is_refused(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(str(tmp_path / 'm.json'), {'AP': float('nan')})
    assert not (tmp_path / 'm.json').exists()


def test_package_versions_and_commit():
    versions = package_versions(('numpy', 'surely-not-installed-pkg'))
    assert versions['numpy'] and versions['surely-not-installed-pkg'] is None and versions['python']
    commit = git_commit()
    assert commit is None or re.fullmatch(r'[0-9a-f]{40}(-dirty)?', commit)


def test_commit_outside_a_checkout_is_none(tmp_path):
    assert git_commit(str(tmp_path)) is None
