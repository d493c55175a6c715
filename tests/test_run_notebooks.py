"""`make run`'s runner: progress lines, executed copies, HTML, and a report that survives a failing notebook."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from cvlib import report

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import run_notebooks


def _write(path: Path, *sources: str, parameters: int | None = None) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    if parameters is not None:
        nb.cells[parameters].metadata["tags"] = ["parameters"]
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
    # each executed copy says which run made it: the course website shows it on the notebook's page
    runs = {name: nbformat.read(out / "executed" / f"{name}.ipynb", as_version=4).metadata["cvlib_run"]
            for name in ("01_fails", "02_works")}
    assert (runs["01_fails"]["status"], runs["02_works"]["status"]) == ("FAILED", "ok")
    assert runs["02_works"]["mode"] == "fast" and runs["02_works"]["by"] == "make run FAST=1"

    # Running one notebook again replaces its row and keeps the others.
    _write(books / "02_works.ipynb", "from cvlib import report",
           "import time; time.sleep(2.5); report.record('02_works', AP=0.75)")
    assert run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--only", "02", "--timeout", "120"]) == 0
    table = (out / "REPORT.md").read_text()
    assert "cell 1: RuntimeError: boom in cell two" in table, "the row of the notebook not run again is kept"
    assert "AP = 0.75" in table and "AP = 0.5" not in table, "the newest run of a notebook wins"
    main_table, slowest = table.split("## Where the time goes")
    rows = [line for line in main_table.splitlines() if line.startswith("| 0")]
    assert [row.split(" | ")[0] for row in rows] == ["| 01_fails", "| 02_works"]
    assert " | fast | " in rows[0] and " | full | " in rows[1], "each row says its mode"
    assert report.machine() in table and re.search(r"\| 20\d\d-\d\d-\d\d \d\d:\d\d, ", rows[1])
    assert re.search(r"\| 02_works \| [\d.]+ -> [\d.]+ \| 1: ([2-9]|\d\d) s `import time; time.sleep", slowest), \
        "each notebook's slowest cells, with the time each took to run, and the load it ran under are reported"


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
    runs["01_a"]["figures"] = {"AP": 0.5}
    table = run_notebooks.write_report(runs, tmp_path).read_text()
    assert "| 01_a | ok | 10 s | AP = 0.5 | full | 2026-12-01 10:00, machine 2 |" in table
    assert "Machine 1: a CPU." in table and "Machine 2: another CPU." in table


@pytest.mark.slow
def test_a_relative_output_folder_still_collects_the_figures(tmp_path, monkeypatch):
    books = tmp_path / "notebooks"
    books.mkdir()
    _write(books / "05_rel.ipynb", "from cvlib import report", "report.record('05_rel', AP=0.5)")
    monkeypatch.chdir(tmp_path)
    assert run_notebooks.main(["--notebooks", str(books), "--out", "build", "--fast"]) == 0
    assert json.loads((tmp_path / "build" / "runs.json").read_text())["05_rel"]["figures"] == {"AP": 0.5}
    assert not (books / "build").exists(), "the kernel, started in the notebooks' folder, wrote beside them"


def test_no_matching_notebook_is_an_error(tmp_path):
    assert run_notebooks.main(["--notebooks", str(tmp_path), "--only", "77"]) == 2


@pytest.mark.slow
def test_targets_are_checked_reported_and_fail_the_run(tmp_path, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    declare = ("from cvlib import report\n"
               "report.target('03_t', 'AP50', '>=', 0.8)\n"
               "report.target('03_t', 'AP50', '>=', 0.2, mode='fast')\n"
               "report.target('03_t', 'mask_AP', '>=', 0.5, mode='both')")
    _write(books / "03_t.ipynb", "SEED = 0", declare, "report.record('03_t', AP50=0.1 * SEED)", parameters=0)
    out = tmp_path / "build"

    # SEED=3 gives AP50 = 0.3: the fast floor holds, mask_AP was never recorded.
    status = run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--fast", "--param", "SEED=3"])
    assert status == 1, "a target whose figure is never recorded must fail the run"
    captured = capsys.readouterr()
    assert "target AP50 >= 0.2 (fast): 0.3 pass" in captured.out
    assert "AP50 >= 0.8" not in captured.out, "a full-mode target is not checked in a fast run"
    assert "names the figure 'mask_AP', which the notebook never records" in captured.err
    table = (out / "REPORT.md").read_text()
    assert "| 03_t | AP50 | >= 0.2 | fast | 0.3 | pass |" in table
    assert "| 03_t | mask_AP | >= 0.5 | both | not recorded | **missed** |" in table
    row = json.loads((out / "runs.json").read_text())["03_t"]
    assert row["params"] == {"SEED": 3} and row["figures"] == {"AP50": 0.30000000000000004}

    # Full mode, default seed: AP50 = 0 misses its full target, named on stderr.
    _write(books / "03_t.ipynb", "SEED = 0", declare, "report.record('03_t', AP50=0.1 * SEED, mask_AP=0.6)",
           parameters=0)
    assert run_notebooks.main(["--notebooks", str(books), "--out", str(out)]) == 1
    assert "03_t: AP50 = 0 MISSED AP50 >= 0.8 (full mode)" in capsys.readouterr().err
    assert run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--param", "SEED=9"]) == 0


def test_parameters_are_injected_after_the_parameters_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in (
        "import x", "SEED = 0\nNAME: str = 'shapes'\nSIZE, OTHER = (0, 0), 1", "go()")])
    nb.cells[1].metadata["tags"] = ["parameters"]
    run_notebooks.inject_parameters(nb, run_notebooks.parse_params(["SEED=4", "NAME=voc", "SIZE=(1, 2)"]))
    assert nb.cells[2].source == "# injected parameters\nSEED = 4\nNAME = 'voc'\nSIZE = (1, 2)"
    assert nb.cells[2].metadata["tags"] == ["injected-parameters"] and nb.cells[3].source == "go()"
    with pytest.raises(ValueError, match=r"sets no SEDE; it sets NAME, OTHER, SEED, SIZE"):
        run_notebooks.inject_parameters(nb, {"SEDE": 1})   # misspelt: never a silent run with the defaults
    with pytest.raises(ValueError, match="--param: expected NAME=VALUE"):
        run_notebooks.parse_params(["SEED"])
    untagged = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("SEED = 0")])
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        run_notebooks.inject_parameters(untagged, {"SEED": 1})


@pytest.mark.slow
def test_a_notebook_over_its_wall_limit_fails_naming_the_cell(tmp_path, capsys):
    books = tmp_path / "notebooks"
    books.mkdir()
    _write(books / "04_slow.ipynb", "x = 1", "import time\ntime.sleep(60)", "x = 2")
    out = tmp_path / "build"
    status = run_notebooks.main(["--notebooks", str(books), "--out", str(out), "--fast", "--notebook-timeout", "8"])
    assert status == 1
    printed = capsys.readouterr().out
    assert "04_slow: timed out in" in printed and "the notebook ran longer than 8 s, in cell 1 (import time)" in printed
