"""tests/conftest.py's groups for pytest-xdist (make test: -n 2 --dist loadgroup)."""

import pytest

from tests import conftest


class Item:
    def __init__(self, nodeid, *marks):
        self.nodeid, self.marks = nodeid, [pytest.Mark(m, (), {}) for m in marks]

    def get_closest_marker(self, name):
        return next((m for m in self.marks if m.name == name), None)

    def add_marker(self, mark):
        self.marks.append(mark.mark)

    def group(self):
        return [m.args[0] for m in self.marks if m.name == "xdist_group"]


def test_a_files_tests_share_a_group_and_the_cluster_tests_share_one():
    items = [
        Item("tests/reliability/test_seeds.py::test_a"),
        Item("tests/reliability/test_seeds.py::test_b"),
        Item("tests/tools/test_tools_on_a_tiny_training.py::test_c", "slow"),
        Item("tests/cluster/test_local_slurm.py::test_d", "cluster"),
        Item("tests/cluster/test_pipeline_on_slurm.py::test_e", "cluster"),
    ]
    conftest.pytest_collection_modifyitems(None, items)
    assert [i.group() for i in items] == [
        ["tests/reliability/test_seeds.py"],
        ["tests/reliability/test_seeds.py"],
        ["tests/tools/test_tools_on_a_tiny_training.py"],
        ["cluster"],
        ["cluster"],
    ]
