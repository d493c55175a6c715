"""Headline figures of a notebook, gathered by ``make run`` into ``build/REPORT.md``.

A notebook calls ``record("01_iou_and_map", mAP=0.73, AP50=0.91)`` once it has its
results. Under ``make run`` the runner sets ``CVLIB_REPORT_DIR`` and the figures
are written there as JSON (one file per notebook); run interactively, they are
only kept in memory and printed, so the call is harmless.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import platform
from pathlib import Path

REPORT_DIR_ENV = "CVLIB_REPORT_DIR"
_recorded: dict[str, dict[str, float | int | str]] = {}


def _clean(name: str, value):
    """A JSON-safe figure: a finite number (NumPy scalars included) or a short string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name}: a headline figure must be finite, got {value}")
        return value
    if isinstance(value, str):
        return value
    raise ValueError(f"{name}: expected a number or a string, got {type(value).__name__}")


def record(notebook: str, **figures) -> dict:
    """Store headline ``figures`` (numbers or strings) for ``notebook``; returns everything it holds so far.

    Repeated calls merge: a later value of the same figure replaces the earlier one.
    """
    if not isinstance(notebook, str) or not notebook.strip():
        raise ValueError(f"notebook: expected the notebook's name such as '01_iou_and_map', got {notebook!r}")
    if not figures:
        raise ValueError("figures: give at least one figure, e.g. record('01_iou_and_map', mAP=0.5)")
    clean = {name: _clean(name, value) for name, value in figures.items()}
    merged = _recorded.setdefault(notebook, {})
    merged.update(clean)

    directory = os.environ.get(REPORT_DIR_ENV)
    if directory:
        path = Path(directory) / f"{notebook}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        on_disk = json.loads(path.read_text()) if path.exists() else {}
        on_disk.update(clean)
        path.write_text(json.dumps(on_disk, indent=2, sort_keys=True))
    print(f"recorded for {notebook}: " + ", ".join(f"{k}={show(v)}" for k, v in clean.items()))
    return dict(merged)


def recorded(notebook: str | None = None) -> dict:
    """What this process has recorded: for one notebook, or all of them."""
    if notebook is None:
        return {name: dict(figs) for name, figs in _recorded.items()}
    return dict(_recorded.get(notebook, {}))


def load(directory: str | Path) -> dict[str, dict]:
    """Read every notebook's figures written by ``record`` under ``directory``."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))}


def show(value) -> str:
    """A figure as the report prints it: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def machine() -> str:
    """CPU model, cores, OS and Python: what a reader needs to compare wall times and speeds."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"
