"""Grade students' submitted notebooks (the engine of ``make grade SUBMISSIONS=dir``).

``SUBMISSIONS`` holds one folder per student; every file below a student's folder
is a submission (nbgrader's ``submitted/STUDENT/ASSIGNMENT/NAME.ipynb`` layout
works as it is). Each submission is matched by name to the reference notebook in
``notebooks/``; as nbgrader's ``autograde`` does, the reference's grade and
locked cells (its checks, hidden tests included) replace whatever the student
left in those cells, so editing a check does not pass it. The notebook is then
executed with nbclient in fast mode, going on past errors, under a per-cell and
a whole-notebook time limit, and each grade cell that ran without an error earns
its points; a check the student deleted earns nothing. One CSV row per student,
notebook and check goes to ``build/grades.csv``:

    student, notebook, exercise, points, max_points, status, message

where ``exercise`` is the check's ``grade_id`` and ``status`` is ``passed``,
``failed`` (with the check's error as message: a renamed function shows as the
name the check could not find), ``not run`` (the run ended before it),
``deleted``, or, for a file that is not a notebook, ``not a notebook``. How each
run ended (``ok``, ``failed to execute`` when the kernel died, ``timed out``) is
printed and heads each student's HTML feedback page,
``build/feedback/STUDENT/NAME.html`` (every check with its result, message and
points, and the total). A bad submission is reported and the run goes on to the
next one. Executed copies go to ``build/graded/STUDENT/NAME.ipynb``.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import execution  # the course's one way of running a notebook, beside this file

ROOT = Path(__file__).resolve().parent.parent

OK, NOT_A_NOTEBOOK, FAILED, TIMED_OUT = "ok", "not a notebook", "failed to execute", "timed out"
PASSED, FAILED_CHECK, NOT_RUN, DELETED = "passed", "failed", "not run", "deleted"


@dataclass
class CheckResult:
    """One graded check of one submission: one row of the grade CSV."""

    student: str
    notebook: str
    exercise: str  # the check cell's grade_id
    points: float = 0.0
    max_points: float = 0.0
    status: str = NOT_RUN
    message: str = ""


@dataclass
class Grade:
    """One submission's result: how its run ended and each of its checks."""

    student: str
    notebook: str
    passed: int = 0
    failed: int = 0
    points: float = 0.0
    max_points: float = 0.0
    status: str = OK
    detail: str = ""
    checks: list[CheckResult] = field(default_factory=list)


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
    are the instructor's, whatever the student changed. Returns the ``grade_id`` of every reference
    check the submission no longer has: a deleted check earns nothing (``score(..., deleted=...)``).
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
    return [gid for gid, cell in reference.items() if gid not in seen and _nbgrader(cell).get("grade")]


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


def _explain(error: str) -> str:
    # A check that cannot find the exercise's function says so in the student's terms.
    match = re.match(r"NameError: name '(\w+)' is not defined", error)
    if match:
        return f"{error} (the check calls `{match[1]}`: was it renamed, or its cell deleted or not run?)"
    return error


def score(nb, student: str = "", notebook: str = "", deleted: tuple[str, ...] = (),
          reference=None) -> list[CheckResult]:
    """One ``CheckResult`` per graded check of the executed notebook ``nb``, in order.

    A check passes when it ran and raised nothing (nbgrader's rule for code grade cells); a cell the
    run never reached is ``not run``. With ``reference`` (the reference notebook) only its checks count, each
    once; ``deleted`` names those the submission removed: they earn nothing and are listed after the others.
    """
    # With a reference, only its checks count, once each: a check cell the student added or copied (say, a copy
    # of a passing check, or `assert True` marked as worth points) earns nothing.
    counted = None if reference is None else {str(_nbgrader(c).get("grade_id")) for c in grade_cells(reference)}
    results, seen = [], set()
    for cell in grade_cells(nb):
        meta = _nbgrader(cell)
        grade_id = str(meta.get("grade_id", "?"))
        if grade_id in seen or (counted is not None and grade_id not in counted):
            continue
        seen.add(grade_id)
        worth = float(meta.get("points", 0) or 0)
        result = CheckResult(student, notebook, grade_id, 0.0, worth)
        error = cell_error(cell)
        if cell.get("execution_count") is None or (error or "").startswith("KeyboardInterrupt"):
            # a time limit interrupts the kernel: the check queued behind the endless cell never ran
            result.status, result.message = NOT_RUN, "the run ended before this check"
        elif error is None:
            result.status, result.points = PASSED, worth
        else:
            result.status, result.message = FAILED_CHECK, _explain(error)
        results.append(result)
    worth = {str(_nbgrader(c).get("grade_id")): float(_nbgrader(c).get("points", 0) or 0)
             for c in (grade_cells(reference) if reference is not None else [])}
    for grade_id in deleted:
        results.append(CheckResult(student, notebook, grade_id, 0.0, worth.get(grade_id, 0.0), DELETED,
                                   "this check was deleted from the submission: it earns nothing"))
    return results


def grade_one(path: Path, student: str, sources: Path, executed_dir: Path | None, cell_timeout: float,
              timeout: float, env: dict | None = None) -> Grade:
    """Grade one submitted file; never raises for a bad submission."""
    grade = Grade(student=student, notebook=path.stem)
    reference_path = sources / path.name
    reference = nbformat.read(reference_path, as_version=4) if reference_path.exists() else None
    try:
        if path.suffix != ".ipynb":
            raise ValueError(f"{path.name} is not an .ipynb file")
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as err:  # unreadable JSON, a wrong schema, a binary file...
        grade.status = NOT_A_NOTEBOOK
        grade.detail = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200] if str(err).strip() else ''}"
        # every check of the reference it was meant to answer earns nothing, and says why
        grade.checks = [CheckResult(student, path.stem, r.exercise, 0.0, r.max_points, NOT_A_NOTEBOOK, grade.detail)
                        for r in (score(reference) if reference is not None else [])]
        _totals(grade)
        return grade

    cwd = sources if reference is not None else path.parent
    notes, deleted = [], []
    if reference is not None:
        deleted = overwrite_from_source(nb, reference)
        if deleted:
            notes.append("deleted checks (no points): " + ", ".join(deleted))
    else:
        notes.append(f"no reference notebook {path.name} in {sources}; graded on its own cells")

    for cell in nb.cells:  # a clean slate: outputs the student left must not count
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    grade.status, detail = execute(nb, cwd, cell_timeout, timeout, env)
    grade.checks = score(nb, student, path.stem, tuple(deleted), reference)
    _totals(grade)
    if detail:
        notes.insert(0, detail)
    failures = [c.exercise for c in grade.checks if c.status in (FAILED_CHECK, NOT_RUN)]
    if failures:
        notes.append("failed: " + ", ".join(failures))
    grade.detail = "; ".join(notes)
    if executed_dir is not None:
        (executed_dir / student).mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_dir / student / path.name)
    return grade


def _totals(grade: Grade) -> None:
    grade.passed = sum(c.status == PASSED for c in grade.checks)
    grade.failed = len(grade.checks) - grade.passed
    grade.points = sum(c.points for c in grade.checks)
    grade.max_points = sum(c.max_points for c in grade.checks)


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
    """One row per student, notebook and graded check (a submission with no check gets one row of its own)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(CheckResult)])
        writer.writeheader()
        for grade in grades:
            alone = CheckResult(grade.student, grade.notebook, "", 0.0, 0.0, grade.status, grade.detail)
            rows = grade.checks or [alone]
            for check in rows:
                row = asdict(check)
                row["points"], row["max_points"] = f"{check.points:g}", f"{check.max_points:g}"
                writer.writerow(row)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .35rem .6rem; vertical-align: top; }}
tr + tr td {{ border-top: 1px solid #ddd; }}
.passed {{ color: #176f2c; }} .failed, .deleted, .not-run {{ color: #a8201a; }}
code, pre {{ font: 13px ui-monospace, monospace; white-space: pre-wrap; margin: 0; }}
</style></head><body>
<h1>{title}</h1>
<p>Run: <strong>{status}</strong>{detail}. Total: <strong>{points:g} / {max_points:g} points</strong>
({passed} of {checks} checks passed).</p>
<table><tr><th>check</th><th>result</th><th>points</th><th>message</th></tr>
{rows}
</table></body></html>
"""


def feedback_page(grade: Grade) -> str:
    """The HTML feedback page of one submission: each graded check with its result, message and points."""
    rows = "\n".join(
        f'<tr><td><code>{html.escape(c.exercise)}</code></td><td class="{c.status.replace(" ", "-")}">'
        f"{html.escape(c.status)}</td><td>{c.points:g} / {c.max_points:g}</td>"
        f"<td><pre>{html.escape(c.message)}</pre></td></tr>"
        for c in grade.checks
    )
    return _PAGE.format(
        title=html.escape(f"{grade.notebook}: feedback for {grade.student}"),
        status=html.escape(grade.status),
        detail=f" ({html.escape(grade.detail)})" if grade.detail else "",
        points=grade.points, max_points=grade.max_points, passed=grade.passed, checks=len(grade.checks),
        rows=rows or '<tr><td colspan="4">no graded check ran</td></tr>',
    )


def write_feedback(grade: Grade, folder: Path) -> Path:
    """Write ``folder/STUDENT/NOTEBOOK.html`` and return its path."""
    path = folder / grade.student / f"{grade.notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(feedback_page(grade), encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", help="folder with one sub-folder per student")
    parser.add_argument("--source", default=str(ROOT / "notebooks"), help="the reference notebooks")
    parser.add_argument("--out", default=str(ROOT / "build" / "grades.csv"), help="the grade CSV")
    parser.add_argument("--executed", default=str(ROOT / "build" / "graded"), help="executed submissions")
    parser.add_argument("--feedback", default=str(ROOT / "build" / "feedback"), help="one HTML page per submission")
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
        write_feedback(grade, Path(args.feedback))
        print(
            f"[{i}/{len(found)}] {student}/{path.name}: {grade.status}, {grade.passed} passed, {grade.failed} failed, "
            f"{grade.points:g}/{grade.max_points:g} points in {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    print(f"grades: {args.out}; feedback: {args.feedback}/STUDENT/NOTEBOOK.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
