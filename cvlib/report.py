"""Headline figures of a notebook and the targets they must meet, gathered by ``make run``.

A notebook declares what it promises once, near its top::

    target("05_yolo", "AP50", ">=", 0.90)                 # full mode: the quality the lesson promises
    target("05_yolo", "AP50", ">=", 0.35, mode="fast")    # fast mode (tests, CI): a floor no broken model passes

calls ``record("05_yolo", AP50=0.93, AP=0.67)`` once it has its results, and
``check("05_yolo")``, which fails with a message naming every target of the current
mode that a recorded figure misses. Under ``make run`` the runner sets
``CVLIB_REPORT_DIR``; figures (``NAME.json``) and targets (``NAME.targets.json``) are
written there, and the runner checks them again and reports each one in
``build/REPORT.md``. Run interactively, they are only kept in memory and printed.

Targets describe the course's generated data. A notebook switched to a real data set records
``dataset="<name>"`` first; its figures are then reported, and no target is checked against them.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

REPORT_DIR_ENV = "CVLIB_REPORT_DIR"
TARGETS_SUFFIX = ".targets.json"
COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
MODES = ("full", "fast", "both")
SYNTHETIC = "synthetic"  # the ``dataset`` figure of a run on the course's generated data (the default)
_recorded: dict[str, dict[str, float | int | str]] = {}
_targets: dict[str, dict[tuple[str, str], Target]] = {}


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
    _check_notebook(notebook)
    if not figures:
        raise ValueError("figures: give at least one figure, e.g. record('01_iou_and_map', mAP=0.5)")
    clean = {name: _clean(name, value) for name, value in figures.items()}
    merged = _recorded.setdefault(notebook, {})
    merged.update(clean)

    path = _report_path(notebook, ".json")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        on_disk = json.loads(path.read_text()) if path.exists() else {}
        on_disk.update(clean)
        path.write_text(json.dumps(on_disk, indent=2, sort_keys=True))
    print(f"recorded for {notebook}: " + ", ".join(f"{k}={show(v)}" for k, v in clean.items()))
    return dict(merged)


def _check_notebook(notebook) -> None:
    if not isinstance(notebook, str) or not notebook.strip():
        raise ValueError(f"notebook: expected the notebook's name such as '01_iou_and_map', got {notebook!r}")


def _report_path(notebook: str, suffix: str) -> Path | None:
    directory = os.environ.get(REPORT_DIR_ENV)
    return Path(directory) / f"{notebook}{suffix}" if directory else None


def _current_mode() -> str:
    from cvlib.config import fast_mode  # here, so that the runner can import this module without NumPy's cost

    return "fast" if fast_mode() else "full"


@dataclass(frozen=True)
class Target:
    """A promise about one recorded figure: ``figure comparison value`` in ``mode`` ("full", "fast" or "both")."""

    figure: str
    comparison: str
    value: float
    mode: str = "full"
    note: str = ""

    def applies(self, mode: str) -> bool:
        """Whether the target is checked in a run of ``mode`` ("full" or "fast")."""
        return self.mode in (mode, "both")

    def met_by(self, measured) -> bool:
        """Whether ``measured`` (a number) meets the target; NaN or a non-number never does."""
        if isinstance(measured, bool) or not isinstance(measured, numbers.Real) or not math.isfinite(measured):
            return False
        return bool(COMPARISONS[self.comparison](float(measured), self.value))

    def describe(self) -> str:
        """``AP50 >= 0.9 (full mode)``, ``(fast mode)`` or ``(every mode)``, as messages and the report print it."""
        where = "every mode" if self.mode == "both" else f"{self.mode} mode"
        return f"{self.figure} {self.comparison} {show(self.value)} ({where})"

    @classmethod
    def from_dict(cls, data: dict) -> Target:
        return make_target(data.get("figure"), data.get("comparison"), data.get("value"),
                           data.get("mode", "full"), data.get("note", ""))


def make_target(figure, comparison, value, mode="full", note="") -> Target:
    """A validated ``Target``; a malformed one is a ``ValueError`` naming the argument."""
    if not isinstance(figure, str) or not figure.isidentifier():
        raise ValueError(f"figure: expected the name of a recorded figure such as 'AP50', got {figure!r}")
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison: expected one of {', '.join(COMPARISONS)}, got {comparison!r}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"value: expected a finite number, got {value!r}")
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if not isinstance(note, str):
        raise ValueError(f"note: expected a string, got {type(note).__name__}")
    return Target(figure, comparison, float(value), mode, note)


def target(notebook: str, figure: str, comparison: str, value: float, *, mode: str = "full", note: str = "") -> Target:
    """Declare that ``figure``, once recorded, must satisfy ``figure comparison value`` in runs of ``mode``.

    ``comparison`` is one of ">=", ">", "<=", "<"; ``mode`` is "full" (the default: what a full run
    promises), "fast" (the floor a fast run must reach) or "both". Declaring the same figure and mode
    again replaces the earlier target, so re-running a cell is harmless.
    """
    _check_notebook(notebook)
    declared = make_target(figure, comparison, value, mode, note)
    targets = _targets.setdefault(notebook, {})
    targets[(figure, mode)] = declared
    path = _report_path(notebook, TARGETS_SUFFIX)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        on_disk = [Target.from_dict(t) for t in json.loads(path.read_text())] if path.exists() else []
        on_disk = [t for t in on_disk if (t.figure, t.mode) != (figure, mode)] + [declared]
        path.write_text(json.dumps([asdict(t) for t in on_disk], indent=2))
    return declared


def targets(notebook: str) -> list[Target]:
    """The targets this process has declared for ``notebook``, in the order they were declared."""
    return list(_targets.get(notebook, {}).values())


@dataclass(frozen=True)
class Outcome:
    """A target checked against what was recorded: ``measured`` is None when the figure was never recorded."""

    notebook: str
    target: Target
    measured: float | int | str | None

    @property
    def met(self) -> bool:
        return self.measured is not None and self.target.met_by(self.measured)

    def message(self) -> str:
        if self.measured is None:
            return (f"{self.notebook}: the target {self.target.describe()} names the figure "
                    f"{self.target.figure!r}, which the notebook never records")
        verdict = "meets" if self.met else "MISSED"
        return f"{self.notebook}: {self.target.figure} = {show(self.measured)} {verdict} {self.target.describe()}"


def evaluate(notebook: str, declared: list[Target], figures: dict, mode: str) -> list[Outcome]:
    """Each target of ``declared`` that applies in ``mode``, against the recorded ``figures``.

    None applies when the figures were measured on a real data set (a ``dataset`` figure other than
    ``"synthetic"``): the targets are promises about the generated data.
    """
    if mode not in ("full", "fast"):
        raise ValueError(f"mode: expected 'full' or 'fast', got {mode!r}")
    if figures.get("dataset", SYNTHETIC) != SYNTHETIC:
        return []
    return [Outcome(notebook, t, figures.get(t.figure)) for t in declared if t.applies(mode)]


def check(notebook: str, *figures: str) -> list[Outcome]:
    """Check the targets of the current mode (fast or full) against what ``record`` has stored.

    With figure names, only their targets are checked (each name must have a target declared);
    without, every target of the notebook. Raises ``AssertionError`` naming every target missed or
    whose figure was never recorded; returns the outcomes otherwise.
    """
    _check_notebook(notebook)
    declared = targets(notebook)
    unknown = [name for name in figures if name not in {t.figure for t in declared}]
    if unknown:
        raise ValueError(f"figures: no target is declared for {', '.join(map(repr, unknown))} in {notebook}")
    chosen = [t for t in declared if not figures or t.figure in figures]
    dataset = recorded(notebook).get("dataset", SYNTHETIC)
    if dataset != SYNTHETIC:
        print(f"{notebook}: the targets describe the generated data; on {dataset} the figures are not checked")
    outcomes = evaluate(notebook, chosen, recorded(notebook), _current_mode())
    for outcome in outcomes:
        print(outcome.message())
    failed = [o.message() for o in outcomes if not o.met]
    if failed:
        raise AssertionError("; ".join(failed))
    return outcomes


def recorded(notebook: str | None = None) -> dict:
    """What this process has recorded: for one notebook, or all of them."""
    if notebook is None:
        return {name: dict(figs) for name, figs in _recorded.items()}
    return dict(_recorded.get(notebook, {}))


def load(directory: str | Path) -> dict[str, dict]:
    """Read every notebook's figures written by ``record`` under ``directory``."""
    paths = sorted(p for p in Path(directory).glob("*.json") if not p.name.endswith(TARGETS_SUFFIX))
    return {p.stem: json.loads(p.read_text()) for p in paths}


def load_targets(directory: str | Path) -> dict[str, list[Target]]:
    """Read every notebook's targets written by ``target`` under ``directory``.

    A malformed entry raises ``ValueError`` naming the file.
    """
    found = {}
    for path in sorted(Path(directory).glob(f"*{TARGETS_SUFFIX}")):
        try:
            found[path.name[: -len(TARGETS_SUFFIX)]] = [Target.from_dict(t) for t in json.loads(path.read_text())]
        except (ValueError, TypeError, AttributeError) as err:
            raise ValueError(f"{path}: malformed targets ({err})") from None
    return found


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
