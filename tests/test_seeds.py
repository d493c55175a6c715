"""tools/seeds.py: the record of runs with other seeds, and the README's table of each target's spread."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import seeds  # noqa: E402 - from tools/


def run(notebook: str, seed: int | None, value: float, met: bool, date: str = "2026-12-04 10:00", **extra) -> dict:
    target = {"figure": "AP50", "comparison": ">=", "value": 0.9, "mode": "full", "note": "", "measured": value,
              "met": met}
    floor = {**target, "mode": "fast", "value": 0.1}
    loss = {"figure": "error", "comparison": "<=", "value": 2.5, "mode": "both", "note": "", "measured": 3 - value,
            "met": 3 - value <= 2.5}
    row = {"notebook": notebook, "status": "ok", "mode": "full", "date": date, "machine": "m", "seconds": 60.0,
           "params": {} if seed is None else {"SEED": seed}, "figures": {"AP50": value},
           "targets": [target, floor, loss]}
    return {**row, **extra}


def test_the_default_seed_is_read_from_the_parameters_cell(tmp_path):
    nb = {"cells": [{"source": ["# t"]}, {"source": ["import cvlib.config\n", "SEED = 13\n", "X = 1\n"]}]}
    (tmp_path / "13_x.ipynb").write_text(json.dumps(nb))
    assert seeds.default_seed(tmp_path / "13_x.ipynb") == 13
    (tmp_path / "14_y.ipynb").write_text(json.dumps({"cells": [{"source": []}, {"source": ["SEEDS = [1]"]}]}))
    with pytest.raises(ValueError, match="no 'SEED = <int>' line"):
        seeds.default_seed(tmp_path / "14_y.ipynb")
    assert all(isinstance(seeds.default_seed(p), int) for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_full_runs_of_other_seeds_are_kept_misses_included_and_the_newest_wins():
    defaults = {"05_yolo": 0}
    unmeasured = run("05_yolo", 3, 0.9, True, status="timeout")
    unmeasured["targets"][0]["measured"] = None
    runs = [run("05_yolo", 1, 0.95, True), run("05_yolo", None, 0.93, True),  # the default seed: make results's
            run("05_yolo", 2, 0.80, False, status="FAILED"),  # stopped at the check of its missed target: kept
            run("05_yolo", 4, 0.85, False, mode="fast"), unmeasured, run("99_gone", 1, 0.9, True)]
    stopped = run("05_yolo", 5, 0.7, False, status="FAILED")
    stopped["targets"][2]["measured"] = None  # recorded after the check that stopped the notebook
    record = seeds.merge({}, [*runs, stopped], defaults)
    assert list(record) == ["05_yolo"] and list(record["05_yolo"]) == ["1", "2", "5"]
    assert record["05_yolo"]["2"]["status"] == "FAILED"
    rows = seeds.spread_rows(record, {}, defaults)
    assert [(r["figure"], sorted(r["values"]), r["all_met"]) for r in rows] == [
        ("AP50", [1, 2, 5], False), ("error", [1, 2], False)], "a figure a seed never reached is not met"
    newer = run("05_yolo", 1, 0.91, True, date="2026-12-05 10:00")
    older = run("05_yolo", 1, 0.99, True, date="2026-12-01 10:00")
    assert seeds.merge(record, [newer, older], defaults)["05_yolo"]["1"]["figures"]["AP50"] == 0.91


def test_the_worst_seed_decides_and_lower_is_better_for_an_upper_bound():
    defaults = {"05_yolo": 0}
    record = seeds.merge({}, [run("05_yolo", 1, 0.95, True), run("05_yolo", 2, 0.85, False)], defaults)
    full = {"05_yolo": run("05_yolo", None, 0.93, True)}
    rows = seeds.spread_rows(record, full, defaults)
    assert [r["figure"] for r in rows] == ["AP50", "error"], "fast-mode floors are left out, 'both' is kept"
    ap50, error = rows
    assert ap50["values"] == {0: (0.93, True), 1: (0.95, True), 2: (0.85, False)}
    assert ap50["machines"] == {0: "m", 1: "m", 2: "m"}
    assert ap50["worst"] == 0.85 and ap50["mean"] == pytest.approx(0.91) and not ap50["all_met"]
    assert error["worst"] == pytest.approx(2.15) and error["all_met"]
    text = seeds.table(rows)
    assert "| 05_yolo | AP50 | >= 0.9 | 0: 0.93, 1: 0.95, 2: 0.85 | 0.91 | 0.85 | **no** |" in text
    assert seeds.spread_rows({}, full, defaults) == [], "one seed alone has no spread"


def test_seeds_run_on_different_machines_name_them():
    defaults = {"05_yolo": 0, "17_x": 0}
    record = seeds.merge({}, [run("05_yolo", 1, 0.95, True, machine="Intel Xeon"),
                              run("17_x", 1, 0.95, True, machine="AMD EPYC")], defaults)
    full = {"05_yolo": run("05_yolo", None, 0.93, True, machine="AMD EPYC"),
            "17_x": run("17_x", None, 0.92, True, machine="AMD EPYC")}
    text = seeds.table(seeds.spread_rows(record, full, defaults))
    assert "| 05_yolo | AP50 | >= 0.9 | 0: 0.93 (machine 1), 1: 0.95 (machine 2) |" in text
    assert "| 17_x | AP50 | >= 0.9 | 0: 0.92, 1: 0.95 |" in text, "one machine for the notebook: no names"
    assert text.endswith("Machine 1: AMD EPYC.\nMachine 2: Intel Xeon."), "numbered by name, as in the README"


def test_the_readme_table_is_what_the_record_gives():
    assert seeds.main(["--check"]) == 0, "run python tools/seeds.py"
