"""A figure a notebook's prose says a run measured is one a recorded run gave.

Every markdown sentence that speaks of runs ("full mode", "full run", "fast runs", "measured", "seeds") may quote
only numbers the course can show: a figure recorded for that notebook by the runs kept in ``results/`` (the
default seed's full and fast runs, and the other seeds' full runs), at the precision the sentence gives, or the
mean of one figure over those seeds, or a value one of the notebook's ``report.target`` calls declares; a
percentage counts as its fraction. Code spans and formulas are left out, and so are numbers with fewer than two
decimals that are not percentages (sizes, counts, parameters). When a new run changes a figure, the prose that
quoted the old one fails here until it is brought up to date.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RUN_WORDS = re.compile(r"\b(full[- ]mode|full runs?|fast runs?|fast mode|measured|seeds?)\b", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d{2,4})(?![\w.%])")
PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) ?%(?! confidence)")  # a 95% confidence interval is no figure
TARGET_VALUE = re.compile(r"report\.target\(\s*[^,]+,\s*f?\"[^\"]+\",\s*\"[<>=!]+\",\s*(-?\d+(?:\.\d+)?)")


def _load(name: str) -> dict:
    return json.loads((ROOT / "results" / name).read_text(encoding="utf-8"))


def _allowed(notebook: str, cells: list[dict]) -> list[float]:
    """The numbers the notebook's prose may quote: recorded figures, their means over seeds, declared targets."""
    runs = [_load("runs.json").get(notebook, {}), _load("fast_runs.json").get(notebook, {})]
    seeds = list(_load("seeds.json").get(notebook, {}).values())
    per_figure: dict[str, list[float]] = {}
    for run in runs + seeds:
        for key, value in (run.get("figures") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                per_figure.setdefault(key, []).append(float(value))
    full = {key: [float(r["figures"][key]) for r in [runs[0], *seeds]
                  if isinstance((r.get("figures") or {}).get(key), (int, float))] for key in per_figure}
    values = [v for vs in per_figure.values() for v in vs]
    values += [sum(vs) / len(vs) for vs in full.values() if len(vs) > 1]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    values += [float(v) for v in TARGET_VALUE.findall(code)]
    return values


def _sentences(markdown: str) -> list[str]:
    text = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"\$[^$]*\$|`[^`]*`", " ", text)
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*(])", text.replace("\n", " "))


def _matches(quoted: str, values: list[float], percent: bool = False) -> bool:
    """``quoted`` (a decimal, or a percentage with ``percent``) is one of ``values`` at the precision it is given."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    value, decimals = (float(quoted) / 100, decimals + 2) if percent else (float(quoted), decimals)
    return any(abs(round(abs(v), decimals) - round(value, decimals)) < 1e-9 for v in values)


def unbacked(notebook: Path) -> list[str]:
    """``cell N: number | sentence`` for every quoted number no recorded run or target backs."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    allowed = _allowed(notebook.stem, cells)
    found = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        for sentence in _sentences("".join(cell["source"])):
            if RUN_WORDS.search(sentence):
                found += [f"cell {index}: {number} | {sentence.strip()[:160]}"
                          for number in NUMBER.findall(sentence) if not _matches(number, allowed)]
                found += [f"cell {index}: {number}% | {sentence.strip()[:160]}"
                          for number in PERCENT.findall(sentence) if not _matches(number, allowed, percent=True)]
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_quotes_only_recorded_figures(notebook):
    stale = unbacked(notebook)
    assert not stale, f"{notebook.name}: numbers no recorded run gives:\n" + "\n".join(stale)


def test_a_stale_figure_is_caught(tmp_path):
    notebook = tmp_path / "06_3d_cnn_ct.ipynb"
    cells = json.loads((ROOT / "notebooks" / notebook.name).read_text(encoding="utf-8"))["cells"]
    recorded = _load("runs.json")["06_3d_cnn_ct"]["figures"]["test_auc"]
    allowed = _allowed(notebook.stem, cells)
    # a value near the recorded one that no run backs (a step of 0.01 may land on another recorded figure)
    wrong = next(recorded + step for step in (0.01, 0.011, 0.013, 0.017, 0.019)
                 if not _matches(f"{recorded + step:.3f}", allowed)
                 and not _matches(f"{100 * (recorded + step):.1f}", allowed, percent=True))
    stale = f"A full run measured a test AUC of {wrong:.3f}; the target is 0.95."
    fresh = f"A full run measured a test AUC of {recorded:.3f}; the target is 0.95."
    stale_percent = f"A full run measured a test AUC of {100 * wrong:.1f}%."
    fresh_percent = f"A full run measured a test AUC of {100 * recorded:.1f}%."
    for text, expected in ((stale, 1), (fresh, 0), (stale_percent, 1), (fresh_percent, 0)):
        notebook.write_text(json.dumps({"cells": [*cells, {"cell_type": "markdown", "source": [text]}]}))
        assert len(unbacked(notebook)) == expected, text
