"""Grade students' submitted notebooks (the engine of ``make grade SUBMISSIONS=dir``).

``SUBMISSIONS`` holds one folder per student; every file below a student's folder
is a submission (nbgrader's ``submitted/STUDENT/ASSIGNMENT/NAME.ipynb`` layout
works as it is). Each submission is matched by name to the reference notebook in
``notebooks/``; as nbgrader's ``autograde`` does, the reference's grade and
locked cells (its checks, hidden tests included) replace whatever the student
left in those cells, so editing a check does not pass it. The notebook is then
executed with nbclient in fast mode, going on past errors, under a per-cell and
a whole-notebook time limit, and each grade cell that ran without an error earns
its points. One CSV row per submission goes to ``build/grades.csv``:

    student, notebook, passed, failed, points, max_points, status, detail

``status`` is ``ok`` (ran to the end), ``not a notebook``, ``failed to execute``
(the kernel died or could not run it) or ``timed out``; a bad submission is
reported and the run goes on to the next one. Executed copies go to
``build/graded/STUDENT/NAME.ipynb`` so students can see what failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import execution  # the course's one way of running a notebook, beside this file

ROOT = Path(__file__).resolve().parent.parent

OK, NOT_A_NOTEBOOK, FAILED, TIMED_OUT = "ok", "not a notebook", "failed to execute", "timed out"


@dataclass
class Grade:
    """One submission's result: one row of the grade CSV."""

    student: str
    notebook: str
    passed: int = 0
    failed: int = 0
    points: float = 0.0
    max_points: float = 0.0
    status: str = OK
    detail: str = ""


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_cells(nb) -> list:
    """The notebook's autograded cells, in order: nbgrader ``grade: true`` code cells that are not answers.

    A cell that is both ``grade`` and ``solution`` is an answer for the instructor to mark by hand
    (nbgrader's "manually graded answer"); it earns no points here.
    """
    return [
        cell for cell in nb.cells
        if _nbgrader(cell).get("grade") and not _nbgrader(cell).get("solution") and cell.cell_type == "code"
    ]


def cell_error(cell) -> str | None:
    """``ename: evalue`` of the cell's error output, or None when it has none."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


def overwrite_from_source(submission, source) -> list[str]:
    """Put the reference's grade and locked cells back into ``submission`` (in place), matched by ``grade_id``.

    What nbgrader's OverwriteCells does at autograde time: checks, hidden tests and read-only cells
    are the instructor's, whatever the student changed. A reference grade cell that the student
    deleted is appended at the end, so it still runs, and fails unless the student's code passes
    it. Returns the ``grade_id`` of every grade cell that had to be appended.
    """
    reference = {
        _nbgrader(cell)["grade_id"]: cell
        for cell in source.cells
        if _nbgrader(cell).get("grade_id") and (_nbgrader(cell).get("grade") or _nbgrader(cell).get("locked"))
        and not _nbgrader(cell).get("solution")
    }
    seen = set()
    for index, cell in enumerate(submission.cells):
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in reference and grade_id not in seen:
            seen.add(grade_id)
            submission.cells[index] = nbformat.from_dict(json.loads(json.dumps(reference[grade_id])))
    missing = [gid for gid, cell in reference.items() if gid not in seen and _nbgrader(cell).get("grade")]
    for grade_id in missing:
        submission.cells.append(nbformat.from_dict(json.loads(json.dumps(reference[grade_id]))))
    return missing


def execute(nb, cwd: str | Path, cell_timeout: float, timeout: float, env: dict | None = None) -> tuple[str, str]:
    """Run every code cell of ``nb`` in place, going on past errors; return (status, detail).

    ``cell_timeout`` bounds each cell, ``timeout`` the whole notebook (both in seconds); the kernel
    is shut down however the run ends. ``env`` is the kernel's environment (default: this process's).
    """
    # allow_errors: as nbgrader's Execute, a failing exercise must not hide the later ones
    result = execution.execute(nb, cwd, cell_timeout, timeout, env, allow_errors=True)
    if result.status == execution.OK:
        return OK, ""
    if result.status == execution.TIMED_OUT:
        return TIMED_OUT, result.detail
    return FAILED, result.detail


def score(nb) -> tuple[int, int, float, float, list[str]]:
    """(passed, failed, points, max_points, failed grade_ids) from an executed notebook.

    A grade cell passes when it ran and raised nothing (nbgrader's rule for code grade cells); a
    cell the run never reached fails.
    """
    passed = failed = 0
    points = max_points = 0.0
    failures = []
    for cell in grade_cells(nb):
        worth = float(_nbgrader(cell).get("points", 0) or 0)
        max_points += worth
        if cell.get("execution_count") is not None and cell_error(cell) is None:
            passed += 1
            points += worth
        else:
            failed += 1
            failures.append(str(_nbgrader(cell).get("grade_id", "?")))
    return passed, failed, points, max_points, failures


def grade_one(path: Path, student: str, sources: Path, executed_dir: Path | None, cell_timeout: float,
              timeout: float, env: dict | None = None) -> Grade:
    """Grade one submitted file; never raises for a bad submission."""
    grade = Grade(student=student, notebook=path.stem)
    try:
        if path.suffix != ".ipynb":
            raise ValueError(f"{path.name} is not an .ipynb file")
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # unreadable JSON, a wrong schema, a binary file...
        grade.status = NOT_A_NOTEBOOK
        grade.detail = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"
        return grade

    reference_path = sources / path.name
    cwd = sources if reference_path.exists() else path.parent
    notes = []
    if reference_path.exists():
        missing = overwrite_from_source(nb, nbformat.read(reference_path, as_version=4))
        if missing:
            notes.append("restored deleted checks: " + ", ".join(missing))
    else:
        notes.append(f"no reference notebook {path.name} in {sources}; graded on its own cells")

    for cell in nb.cells:  # a clean slate: outputs the student left must not count
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    grade.status, detail = execute(nb, cwd, cell_timeout, timeout, env)
    grade.passed, grade.failed, grade.points, grade.max_points, failures = score(nb)
    if detail:
        notes.insert(0, detail)
    if failures:
        notes.append("failed: " + ", ".join(failures))
    grade.detail = "; ".join(notes)
    if executed_dir is not None:
        (executed_dir / student).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_dir / student / path.name)
    return grade


def submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, file) for every file below each student's folder, hidden files and checkpoints skipped."""
    found = []
    for student_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(student_dir.rglob("*")):
            parts = path.relative_to(student_dir).parts
            if path.is_file() and not any(part.startswith(".") for part in parts):
                found.append((student_dir.name, path))
    return found


def write_csv(grades: list[Grade], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Grade)])
        writer.writeheader()
        for grade in grades:
            row = asdict(grade)
            row["points"], row["max_points"] = f"{grade.points:g}", f"{grade.max_points:g}"
            writer.writerow(row)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", help="folder with one sub-folder per student")
    parser.add_argument("--source", default=str(ROOT / "notebooks"), help="the reference notebooks")
    parser.add_argument("--out", default=str(ROOT / "build" / "grades.csv"), help="the grade CSV")
    parser.add_argument("--executed", default=str(ROOT / "build" / "graded"), help="executed submissions")
    parser.add_argument("--cell-timeout", type=float, default=600, help="seconds a cell may run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a whole notebook may run")
    parser.add_argument("--full", action="store_true", help="run in full mode instead of fast mode (CVLIB_FAST=1)")
    args = parser.parse_args(argv)

    folder = Path(args.submissions)
    if not folder.is_dir():
        print(f"SUBMISSIONS: expected a folder with one sub-folder per student, got {folder}", file=sys.stderr)
        return 2
    found = submissions(folder)
    if not found:
        print(f"no submission found below {folder} (expected {folder}/STUDENT/NAME.ipynb)", file=sys.stderr)
        return 2
    env = {**os.environ, "CVLIB_FAST": "0" if args.full else "1"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    grades = []
    for i, (student, path) in enumerate(found, 1):
        start = time.perf_counter()
        grade = grade_one(path, student, Path(args.source), Path(args.executed), args.cell_timeout, args.timeout, env)
        grades.append(grade)
        write_csv(grades, Path(args.out))  # after each one, so an interrupted run keeps what it graded
        print(
            f"[{i}/{len(found)}] {student}/{path.name}: {grade.status}, {grade.passed} passed, {grade.failed} failed, "
            f"{grade.points:g}/{grade.max_points:g} points in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    print(f"grades: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
