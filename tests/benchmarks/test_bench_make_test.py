"""benchmarks/bench_make_test.py: the command it times and the pytest summary it reads from a side's output."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("bench_make_test", REPO / "benchmarks" / "bench_make_test.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

OUTPUT = """
tests/workflow/test_e2e.py .                                             [ 98%]
=========================== short test summary info ============================
SKIPPED [1] tests/data/test_synthetic.py:145: root ignores file permissions
FAILED tests/workflow/test_dryrun.py::test_default_config_dry_run - Assertion...
====== 1 failed, 563 passed, 1 skipped, 93 warnings in 1303.29s (0:21:43) ======
make: *** [Makefile:25: test] Error 1
"""


def test_summary_line_is_pytests_last_one():
    assert bench.summary_line(OUTPUT) == "1 failed, 563 passed, 1 skipped, 93 warnings in 1303.29s (0:21:43)"
    later = "=========== 717 passed, 1 skipped, 103 warnings in 720.02s (0:12:00) ============"
    assert bench.summary_line(OUTPUT + later) == "717 passed, 1 skipped, 103 warnings in 720.02s (0:12:00)"
    assert bench.summary_line("ruff: 3 errors\nmake: *** [lint] Error 1\n") is None


def test_the_timed_command_is_the_trees_make_test_with_this_environment():
    assert bench.make_test_command("/env") == ["make", "VENV=/env", "-o", "/env/.setup-complete", "test"]
