"""Run every benchmark in this folder and print one table (``make bench``).

Each ``bench_*.py`` module exposes ``run() -> list[Row]``; rows report medians of
repeated runs of cvlib and of its reference, measured in this one run. Below them come the
notebooks' recorded wall times in full and fast mode (``results/``, written by ``make results``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tools"))

import results  # noqa: E402 - tools/results.py: the record of notebook runs
from cvlib import report  # noqa: E402
from cvlib.config import quiet_logs  # noqa: E402

quiet_logs()  # before any benchmark imports TensorFlow


def machine() -> str:
    """The machine (``cvlib.report.machine``) and the library versions: what a reader needs to compare figures."""
    import keras
    import numpy
    import tensorflow

    return (f"{report.machine()}, NumPy {numpy.__version__}, TensorFlow {tensorflow.__version__}, "
            f"Keras {keras.__version__}")


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    rows = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(name).run())
    columns = ["task", "cvlib", "reference", "cvlib vs reference", "note"]
    print(f"Measured {dt.date.today():%Y-%m-%d} on {machine()}; medians of repeated runs.\n")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in columns) + " |")
    full, fast = results.records()
    notebooks = [p.stem for p in (HERE.parent / "notebooks").glob("*.ipynb")]
    print("\n## The course's run times\n")
    print(results.times_table(full, fast, notebooks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
