"""`make run`'s runner: progress lines, executed copies, HTML, and a report that survives a failing notebook."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

from cvlib import report

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

    # Running one notebook again replaces its row and keeps the others.
    _write(books / "02_works.ipynb", "from cvlib import report", "report.record('02_works', AP=0.75)")
    assert run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--only", "02", "--timeout", "120"]) == 0
    table = (out / "REPORT.md").read_text()
    assert "cell 1: RuntimeError: boom in cell two" in table, "the row of the notebook not run again is kept"
    assert "AP = 0.75" in table and "AP = 0.5" not in table, "the newest run of a notebook wins"
    rows = [line for line in table.splitlines() if line.startswith("| 0")]
    assert [row.split(" | ")[0] for row in rows] == ["| 01_fails", "| 02_works"]
    assert " | fast | " in rows[0] and " | full | " in rows[1], "each row says its mode"
    assert report.machine() in table and re.search(r"\| 20\d\d-\d\d-\d\d \d\d:\d\d, ", rows[1])


def test_merge_keeps_rows_per_notebook_and_drops_removed_ones(tmp_path):
    def row(name, seconds, date):
        return {"notebook": name, "status": "ok", "seconds": seconds, "detail": "", "mode": "full", "date": date,
                "machine": "a CPU"}

    path = tmp_path / "runs.json"
    run_notebooks.merge_runs(path, [row("01_a", 10, "2026-12-01 10:00"), row("02_b", 20, "2026-12-01 10:05")])
    runs = run_notebooks.merge_runs(path, [row("02_b", 25, "2026-12-02 09:00")], keep={"01_a", "02_b"})
    assert list(runs) == ["01_a", "02_b"] and runs["02_b"]["seconds"] == 25 and runs["01_a"]["seconds"] == 10
    assert list(run_notebooks.merge_runs(path, [], keep={"02_b"})) == ["02_b"], "a removed notebook's row goes"
    path.write_text("{not json")
    assert list(run_notebooks.merge_runs(path, [row("03_c", 1, "2026-12-02 10:00")])) == ["03_c"]
    runs["01_a"]["machine"] = "another CPU"
    table = run_notebooks.write_report(runs, {"01_a": {"AP": 0.5}}, tmp_path).read_text()
    assert "| 01_a | ok | 10 s | AP = 0.5 | full | 2026-12-01 10:00, machine 2 |" in table
    assert "Machine 1: a CPU." in table and "Machine 2: another CPU." in table


def test_no_matching_notebook_is_an_error(tmp_path):
    assert run_notebooks.main(["--notebooks", str(tmp_path), "--only", "77"]) == 2
