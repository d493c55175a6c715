"""The README is the course's front page: its course map and results table match the notebooks.

Every notebook in ``notebooks/`` is in the course map, every notebook the map lists exists, and the
results section gives both tables (``make run`` and ``make bench``) with the date and the machine.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\(notebooks/([^)\s]+\.ipynb)\)")


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def course_map() -> list[str]:
    """Notebook file names linked from the course map's table rows."""
    rows = [line for line in section("Course map").splitlines() if line.startswith("|")]
    return [name for line in rows for name in LINK.findall(line)]


def test_every_notebook_listed_exists():
    listed = course_map()
    assert listed, "the course map lists no notebook"
    missing = [name for name in listed if not (ROOT / "notebooks" / name).exists()]
    assert not missing, f"README's course map links notebooks that do not exist: {missing}"
    assert len(listed) == len(set(listed)), "a notebook is listed twice in the course map"


def test_every_notebook_is_listed():
    listed = set(course_map())
    unlisted = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if p.name not in listed)
    assert not unlisted, f"notebooks missing from README's course map: {unlisted}"


def test_course_map_rows_are_numbered_like_their_notebooks():
    for line in section("Course map").splitlines():
        names = LINK.findall(line)
        if names:
            number = line.strip("| ").split("|")[0].strip()
            assert names[0].startswith(f"{number}_"), f"row {number!r} links {names[0]}"


def test_results_give_both_tables_with_date_and_machine():
    results = section("Results")
    assert "make run" in results and "make bench" in results, "the results show notebook runs and benchmarks"
    assert re.search(r"20\d\d-\d\d-\d\d", results), "the results say when they were measured"
    assert re.search(r"\d+-core|\d+ cores|CPU", results), "the results say on what machine"
    notebooks_in_results = set(re.findall(r"^\| (\d\d_\w+) \|", results, re.MULTILINE))
    unknown = sorted(n for n in notebooks_in_results if not (ROOT / "notebooks" / f"{n}.ipynb").exists())
    assert not unknown, f"the results table has rows for notebooks that do not exist: {unknown}"


def test_results_section_is_made_from_the_recorded_runs():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "tools" / "results.py"), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_results_table_shows_recorded_figures_targets_and_load(tmp_path):
    import json
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import results

    row = {"notebook": "05_yolo", "status": "ok", "seconds": 301.4, "mode": "full", "date": "2026-12-03 10:00",
           "machine": "a CPU, 2 cores", "load": [0.2, 0.4], "figures": {"AP50": 0.931, "AP": 0.67},
           "targets": [{"figure": "AP50", "comparison": ">=", "value": 0.9, "mode": "full", "note": "",
                        "measured": 0.931, "met": True}]}
    busy = {**row, "notebook": "06_ct", "load": [3.5, 2.0], "date": "2026-12-03 11:00"}
    fast = {**row, "notebook": "07_x", "mode": "fast"}
    record = results.merge({}, {"05_yolo": row, "06_ct": busy, "07_x": fast})
    assert list(record) == ["05_yolo", "06_ct"], "only full-mode runs are recorded"
    older = {**row, "date": "2026-12-01 10:00", "figures": {"AP50": 0.5}}
    assert results.merge(record, {"05_yolo": older})["05_yolo"]["figures"]["AP50"] == 0.931, "the newest run wins"
    other_seed = {**row, "date": "2026-12-05 10:00", "params": {"SEED": 3}, "figures": {"AP50": 0.7}}
    assert results.merge(record, {"05_yolo": other_seed})["05_yolo"]["figures"]["AP50"] == 0.931, \
        "a run with another seed is not the notebook as it ships"
    missed = {**row, "status": "FAILED", "date": "2026-12-04 10:00", "figures": {"AP50": 0.85},
              "detail": "cell 30: AssertionError: 05_yolo: AP50 = 0.85 MISSED AP50 >= 0.9 (full mode)",
              "targets": [{**row["targets"][0], "measured": 0.85, "met": False}]}
    assert results.merge(record, {"05_yolo": missed})["05_yolo"]["figures"]["AP50"] == 0.85, \
        "a newer run that missed its target replaces the older run that met it"
    assert "AP50 >= 0.9: 0.85, **missed**" in results.table(results.merge(record, {"05_yolo": missed}), ["05_yolo"])
    crashed = {**missed, "detail": "cell 3: ValueError", "targets": [{**row["targets"][0], "measured": None,
                                                                       "met": False}]}
    assert results.merge(record, {"05_yolo": crashed})["05_yolo"]["figures"]["AP50"] == 0.931, \
        "a run that stopped before measuring its targets is no result"
    text = results.table(record, ["05_yolo", "06_ct", "08_none"])
    assert "| 05_yolo | 301 s | AP50 >= 0.9: 0.931, met | AP50 = 0.931, AP = 0.67 | 2026-12-03 10:00," in text
    assert "| 06_ct | 301 s (machine busy: load 3.5) |" in text
    assert "| 08_none | - | no full run recorded yet |" in text
    readme = "intro\n<!-- results:begin -->\nold\n<!-- results:end -->\nmore"
    assert results.rewrite(readme, "new") == "intro\n<!-- results:begin -->\nnew\n<!-- results:end -->\nmore"
    json.dumps(record)  # the record stays plain JSON


def test_times_table_gives_both_modes_totals_and_busy_runs():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import results

    machine = "a CPU, 2 cores, Linux"
    full = {"05_yolo": {"seconds": 240.0, "load": [0.1, 2.1], "date": "2026-12-03 10:00", "machine": machine},
            "06_ct": {"seconds": 120.0, "load": [3.6, 2.0], "date": "2026-12-03 11:00", "machine": machine}}
    fast = {"05_yolo": {"seconds": 30.0, "load": [0.2, 1.9], "date": "2026-12-02 09:00", "machine": machine}}
    text = results.times_table(full, fast, ["05_yolo", "06_ct", "07_x"])
    assert "| 05_yolo | 240 s | 30 s |" in text, "a run whose load stayed within the cores is quiet"
    assert "| 06_ct | 120 s (machine busy: load 3.6) | not recorded |" in text
    assert "| 07_x | not recorded | not recorded |" in text
    assert "| **total** | 6.0 min (2 of 3 notebooks, not all quiet) | 0.5 min (1 of 3 notebooks) |" in text
    assert "Runs from 2026-12-02 to 2026-12-03 on a CPU, 2 cores, Linux." in text
    full["05_yolo"]["machine"] = "another CPU, 2 cores, Linux"
    text = results.times_table(full, fast, ["05_yolo", "06_ct"])
    assert "| **total** | 6.0 min (2 of 2 notebooks, not all quiet, on 2 machines) |" in text, \
        "a total over two machines says so"
    assert "| 05_yolo | 240 s, machine 2 | 30 s, machine 1 |" in text, "each time names its machine"
    assert "Machine 1: a CPU, 2 cores, Linux.\nMachine 2: another CPU, 2 cores, Linux." in text


def test_runtime_sentence_is_rewritten_between_its_markers():
    import json
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import results

    machine = "a CPU, 2 cores"
    full = {"seconds": 250.0, "load": [0.1, 2.0], "machine": machine}
    fast = {"seconds": 41.0, "load": [4.0, 2.0], "machine": machine}
    sentence = results.runtime_sentence(full, fast)
    assert sentence == ("**Run time**, as last recorded by `make run` on a 2-core CPU: full mode 4.2 min; "
                        "fast mode (`CVLIB_FAST=1`) 41 s (on a busy machine).")
    assert "full mode not recorded yet" in results.runtime_sentence(None, fast)
    source = ["# Title\n", "<!-- runtime:begin -->\n", 'old "quoted" \\ line\n', "<!-- runtime:end -->\n", "More."]
    text = json.dumps({"cells": [{"cell_type": "markdown", "source": source}]}, indent=1)
    new = json.loads(results.rewrite_runtime(text, sentence))
    assert new["cells"][0]["source"] == [*source[:2], sentence + "\n", *source[3:]]
    assert json.loads(results.rewrite_runtime(json.dumps({"source": ["<!-- runtime:begin -->\n", "old\n",
                                                                      "<!-- runtime:end -->"]}), "new"))["source"] \
        == ["<!-- runtime:begin -->\n", "new\n", "<!-- runtime:end -->"]  # the cell's last line, without a newline
    on_one_line = json.dumps({"source": ["<!-- runtime:begin -->old<!-- runtime:end -->\n"]})
    with pytest.raises(ValueError, match="then one"):
        results.rewrite_runtime(on_one_line, sentence)
    with pytest.raises(ValueError, match=re.escape("07_x.ipynb: expected one <!-- runtime:begin -->")):
        results.rewrite_runtime("{}", sentence, "07_x.ipynb")
