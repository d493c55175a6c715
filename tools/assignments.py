"""Generate the student versions of the course's notebooks (the engine of ``make assignments``).

For every notebook in ``notebooks/`` that carries nbgrader cells, write
``build/assignments/NAME.ipynb``: each region between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` / ``raise NotImplementedError()``
(``YOUR ANSWER HERE`` in markdown), every ``### BEGIN HIDDEN TESTS`` ...
``### END HIDDEN TESTS`` region is removed, outputs are cleared, and the cells'
nbgrader metadata (``grade``, ``solution``, ``locked``, ``grade_id``, ``points``)
is kept, with the checksums nbgrader uses to notice edited test cells.

Why nbgrader itself rather than a re-implementation: its preprocessors *are* the
definition of a student version (the stub text per kernel language, where a
region may sit, what a grade cell must carry, the checksums its ``autograde``
checks). nbgrader 0.9.6 installs on Python 3.11 next to our pins and adds only
notebook, SQLAlchemy, alembic, Mako and RapidFuzz (jupyter_server is already
here for JupyterLab), so we run its own pipeline, that of ``nbgrader
generate_assignment``, minus the one step that needs its database
(``SaveCells``). An instructor who prefers the full nbgrader workflow can put
the notebooks in an nbgrader ``source/`` folder unchanged.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
)

ROOT = Path(__file__).resolve().parent.parent

# The order of nbgrader's GenerateAssignment converter (nbgrader/converters/generate_assignment.py),
# without SaveCells: checksums are computed before the hidden tests go and again after.
PIPELINE = (
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
)


def nbgrader_cells(nb) -> list:
    """The cells nbgrader knows about (those whose metadata carries an ``nbgrader`` entry)."""
    return [cell for cell in nb.cells if "nbgrader" in cell.get("metadata", {})]


def is_assignment(nb) -> bool:
    """True when ``nb`` has at least one nbgrader solution or grade cell."""
    return any(
        cell.metadata["nbgrader"].get("solution") or cell.metadata["nbgrader"].get("grade")
        for cell in nbgrader_cells(nb)
    )


def student_version(nb, path: str | Path = "."):
    """The student version of notebook ``nb`` (a NotebookNode; not modified), made by nbgrader's preprocessors.

    ``path`` is the notebook's folder (nbgrader resolves header/footer and autotest files from it).
    Raises ValueError when nbgrader rejects the notebook (e.g. a solution region in a cell without
    nbgrader metadata, or a grade cell without ``grade_id``).
    """
    if not isinstance(nb, nbformat.NotebookNode):
        raise ValueError(f"nb: expected a notebook read with nbformat, got {type(nb).__name__}")
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))  # a deep copy; the caller's notebook stays as it is
    resources = {"metadata": {"path": str(path)}, "nbgrader": {}}
    for step in PIPELINE:
        try:
            nb, resources = step().preprocess(nb, resources)
        except RuntimeError as err:  # nbgrader reports malformed exercises as RuntimeError
            raise ValueError(f"nb: nbgrader's {step.__name__} rejects the notebook: {err}") from err
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="folder of reference notebooks")
    parser.add_argument("--out", default=str(ROOT / "build" / "assignments"), help="folder for student versions")
    parser.add_argument("--only", default="", help="only notebooks whose name starts with this, e.g. 01")
    args = parser.parse_args(argv)

    sources = sorted(p for p in Path(args.notebooks).glob("*.ipynb") if p.name.startswith(args.only))
    if not sources:
        print(f"no notebook in {args.notebooks} matches {args.only!r}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in sources:
        nb = nbformat.read(path, as_version=4)
        if not is_assignment(nb):
            print(f"{path.name}: no nbgrader exercise, skipped")
            continue
        try:
            student = student_version(nb, path.parent)
        except ValueError as err:
            print(f"{path.name}: {err}", file=sys.stderr)
            failed += 1
            continue
        nbformat.write(student, out / path.name)
        solutions = sum(bool(c.metadata["nbgrader"].get("solution")) for c in nbgrader_cells(student))
        points = sum(float(c.metadata["nbgrader"].get("points", 0) or 0) for c in nbgrader_cells(student))
        print(f"{path.name}: {solutions} exercises, {points:g} points -> {out / path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
