"""`make run`'s runner: progress lines, executed copies, HTML, and a report that survives a failing notebook."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_notebooks


def _write(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.slow
def test_failing_notebook_is_reported_and_the_rest_still_runs(tmp_path, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    _write(books / "01_fails.ipynb", "x = 1", "raise RuntimeError('boom in cell two')", "x = 3")
    _write(books / "02_works.ipynb", "from cvlib import report", "report.record('02_works', AP=0.5)")
    out = tmp_path / "build"

    status = run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--fast", "--timeout", "120"])

    assert status == 1, "a failing notebook must make the run exit non-zero"
    printed = capsys.readouterr().out
    assert "01_fails: FAILED" in printed and "02_works: ok" in printed
    table = (out / "REPORT.md").read_text()
    assert "cell 1: RuntimeError: boom in cell two" in table
    assert "| 02_works | ok |" in table and "AP = 0.5" in table
    for name in ("01_fails", "02_works"):
        assert (out / "executed" / f"{name}.ipynb").exists()
        assert (out / "html" / f"{name}.html").exists()


def test_no_matching_notebook_is_an_error(tmp_path):
    assert run_notebooks.main(["--notebooks", str(tmp_path), "--only", "77"]) == 2
