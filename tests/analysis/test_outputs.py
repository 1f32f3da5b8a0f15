"""analysis.outputs: the report's file set, importable without the plotting stack (the workflow reads it)."""

import subprocess
import sys


def test_outputs_import_without_matplotlib_or_pandas():
    code = (
        "import sys; import analysis.outputs as o; "
        'heavy = [m for m in ("matplotlib", "pandas", "numpy") if m in sys.modules]; '
        "print(len(o.OUTPUTS), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split(" ", 1) == ["43", "[]\n"]  # SUMMARY.md + 8 tables x 3 formats + 9 figures x 2


def test_report_writes_the_outputs_module_set():
    from analysis import outputs, report

    assert report.OUTPUTS is outputs.OUTPUTS and report.CATEGORIES is outputs.CATEGORIES
