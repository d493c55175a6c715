"""The course's code is ruff-clean: the library, tests, benchmarks, tools and notebooks (pyproject.toml's rules)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_check_is_clean():
    # ruff is pinned in requirements.txt; prefer the one beside this interpreter (the course's .venv).
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff)] if ruff.exists() else [shutil.which("ruff") or "ruff"]
    result = subprocess.run([*command, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


def test_what_students_read_speaks_of_the_course_not_of_its_development():
    # The library, the notebooks, the benchmarks, the tools and the README are read by students: no "issue 12",
    # "the target" or "for issue ..." (the development history lives in the tracker and in git).
    pattern = re.compile(r"\bissues? \d+\b|\bthe issue\b|\bfor issue\b|\bissue's\b", re.IGNORECASE)
    files = [ROOT / "README.md", *(ROOT / "notebooks").glob("*.ipynb"),
             *(p for folder in ("cvlib", "benchmarks", "tools") for p in (ROOT / folder).rglob("*.py"))]
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}" for path in files
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert not found, "development talk in text students read:\n" + "\n".join(found)
