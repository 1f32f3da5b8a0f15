"""make test's pytest-xdist workers (tests/conftest.py's collection hook, pyproject's --dist options): a test file runs
whole on one worker, the files sharing a once-per-run session fixture (the SLURM cluster, the default synthetic
dataset) on one worker, and the cluster's file is handed out first; one process keeps pytest's own order."""

import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"

# the suite's hook, loaded from tests/conftest.py into the scratch suite's conftest
CONFTEST = f"""
import importlib.util, os, pytest

spec = importlib.util.spec_from_file_location("suite_conftest", {str(TESTS / "conftest.py")!r})
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
pytest_collection_modifyitems = suite.pytest_collection_modifyitems
pytest_configure = lambda config: config.addinivalue_line("markers", "cluster: the cluster rehearsal")


@pytest.fixture(scope="session")
def slurm_cluster():
    return "cluster"


@pytest.fixture(scope="session")
def default_synthetic_dataset():
    return "dataset"


@pytest.fixture
def record(request):
    def write(name):
        with open(os.environ["WORKER_LOG"], "a") as log:
            log.write(f"{{os.environ.get('PYTEST_XDIST_WORKER', 'main')}} {{name}}\\n")
    return write
"""


def _file(index, fixture=None, mark=None, tests=4):
    params = ", ".join(p for p in ("record", fixture) if p)
    head = f"import pytest\npytestmark = pytest.mark.{mark}\n" if mark else ""
    body = "".join(f"def test_{index}_{i}({params}):\n    record('f{index}')\n" for i in range(tests))
    return head + body


def _dist_options():
    addopts = tomllib.loads(PYPROJECT.read_text())["tool"]["pytest"]["ini_options"]["addopts"]
    return [opt for opt in addopts.split() if opt.startswith("--dist") or opt.endswith("loadscope-reorder")]


@pytest.fixture
def scratch_suite(pytester, monkeypatch):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_a_unit=_file(0),
        test_b_dataset_user=_file(1, fixture="default_synthetic_dataset"),
        test_c_unit=_file(2),
        test_d_cluster_one=_file(3, fixture="slurm_cluster", mark="cluster"),
        test_e_dataset_user=_file(4, fixture="default_synthetic_dataset"),
        test_f_cluster_two=_file(5, fixture="slurm_cluster", mark="cluster"),
    )
    log = pytester.path / "workers.log"
    monkeypatch.setenv("WORKER_LOG", str(log))
    return log


def _rows(log):
    return [line.split() for line in log.read_text().splitlines()]


def test_two_workers_keep_files_and_shared_fixtures_together_and_start_with_the_cluster(pytester, scratch_suite):
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", *_dist_options())
    result.assert_outcomes(passed=24)
    rows = _rows(scratch_suite)
    worker_of = {}
    for worker, name in rows:
        worker_of.setdefault(name, set()).add(worker)
    assert all(len(workers) == 1 for workers in worker_of.values()), worker_of  # each file whole on one worker
    assert worker_of["f3"] == worker_of["f5"]  # one SLURM cluster
    assert worker_of["f1"] == worker_of["f4"]  # one default dataset
    assert {w for workers in worker_of.values() for w in workers} == {"gw0", "gw1"}
    cluster_worker = next(iter(worker_of["f3"]))
    assert [name for worker, name in rows if worker == cluster_worker][0] in ("f3", "f5")


def test_one_process_keeps_pytests_own_order(pytester, scratch_suite):
    pytester.runpytest_subprocess("-p", "xdist", "-n", "0", *_dist_options()).assert_outcomes(passed=24)
    names = [name for _, name in _rows(scratch_suite)]
    assert names == [f"f{i}" for i in range(6) for _ in range(4)]


@pytest.mark.parametrize("workers,cores,share", [(None, 8, 8), ("2", 2, 1), ("2", 8, 4), ("16", 8, 1)])
def test_cpu_share_is_the_cores_over_the_workers(monkeypatch, request, workers, cores, share):
    if workers is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", workers)
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert request.getfixturevalue("cpu_share") == share
