"""Execute the course's notebooks headless, check their targets and write the report (the engine of ``make run``).

For every notebook in ``notebooks/`` (or those whose name starts with ``--only``):
execute it with nbclient in its own directory (``execution.execute``: a per-cell and a
whole-notebook wall limit), print a progress line (name, elapsed, status), write
``build/executed/NAME.ipynb`` and ``build/html/NAME.html``, collect the figures the
notebook recorded (``cvlib.report.record``) and check them against the targets it
declared (``cvlib.report.target``) for the run's mode, a line per target.
A failing notebook is reported with its failing cell and the run goes on.
``build/REPORT.md`` has one row per notebook, with the date, the mode and the
machine of its run, and a table of every target with its measured value: a run of
some notebooks (``--only 05``) replaces their rows and keeps the others (kept with
their figures and targets in ``build/runs.json``), so the newest run of each
notebook wins. The exit status is 1 if any notebook of this run failed, missed a
target of its mode, or declared a target for a figure it never recorded.

``--param NAME=VALUE`` overrides a variable of the notebook's ``parameters`` cell, as
papermill does: a cell setting it is inserted right after that cell (``--param SEED=3``
runs a notebook with another seed). A name the ``parameters`` cell does not set is an error, naming it.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import execution  # noqa: E402 - beside this file

from cvlib import report  # noqa: E402

# Wall limits in seconds (per cell, per notebook); fast mode runs a notebook in about a minute.
LIMITS = {"fast": (600, 900), "full": (1800, 3600)}


def parse_params(pairs: list[str]) -> dict:
    """``["SEED=3", "NAME='x'"]`` -> ``{"SEED": 3, "NAME": "x"}``; a value that is no Python literal stays a string."""
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValueError(f"--param: expected NAME=VALUE with NAME a Python name, got {pair!r}")
        try:
            params[name.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            params[name.strip()] = text.strip()
    return params


def _assigned_names(source: str) -> set[str]:
    """The names a cell's top-level assignments set (``A = 1``, ``A, B = 1, 2``, ``A: int = 1``)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in getattr(node, "targets", None) or [node.target]:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def inject_parameters(nb, params: dict) -> None:
    """Insert a cell setting ``params`` right after the cell tagged ``parameters`` (papermill's convention)."""
    if not params:
        return
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise ValueError("--param: the notebook has no cell tagged 'parameters' to override")
    known = _assigned_names(nb.cells[tagged[0]].source)
    unknown = [name for name in params if name not in known]
    if unknown:  # a misspelt name would otherwise run the notebook with its defaults, silently
        raise ValueError(f"--param: the parameters cell sets no {', '.join(unknown)}; "
                         f"it sets {', '.join(sorted(known))}")
    source = "# injected parameters\n" + "\n".join(f"{name} = {value!r}" for name, value in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(tagged[0] + 1, cell)


def run_metadata(mode: str, result: execution.Result, started: dt.datetime, by: str) -> dict:
    """What an executed copy says about the run that made it (``metadata["cvlib_run"]``; the website shows it)."""
    return {"mode": mode, "status": result.status, "seconds": round(result.seconds, 1),
            "date": f"{started:%Y-%m-%d %H:%M}", "machine": report.machine(), "by": by}


def execute(path: Path, out: Path, cell_timeout: float, timeout: float, env: dict | None = None,
            params: dict | None = None, mode: str = "full") -> tuple[execution.Result, list[dict]]:
    """Run one notebook, its kernel in environment ``env`` (default: ours); save the executed copy and its HTML.

    ``mode`` ("full" or "fast") is only written into the copy's metadata. Returns how the run ended and its
    three slowest cells.
    """
    nb = nbformat.read(path, as_version=4)
    inject_parameters(nb, params or {})
    started = dt.datetime.now()
    result = execution.execute(nb, path.parent, cell_timeout, timeout, env)
    nb.metadata["cvlib_run"] = run_metadata(mode, result, started, "make run" + (" FAST=1" if mode == "fast" else ""))
    (out / "executed").mkdir(parents=True, exist_ok=True)
    (out / "html").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / "executed" / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / "html" / f"{path.stem}.html").write_text(html, encoding="utf-8")
    return result, result.slowest(nb)


def check_targets(name: str, figures_dir: Path, mode: str) -> tuple[list[dict], list[str]]:
    """The notebook's targets for ``mode`` against its recorded figures: (rows for the report, problems)."""
    try:
        declared = report.load_targets(figures_dir).get(name, [])
    except ValueError as err:
        return [], [str(err)]
    figures = report.load(figures_dir).get(name, {})
    rows, problems = [], []
    for outcome in report.evaluate(name, declared, figures, mode):
        rows.append({**asdict(outcome.target), "measured": outcome.measured, "met": outcome.met})
        if not outcome.met:
            problems.append(outcome.message())
    return rows, problems


def merge_runs(path: Path, rows: list[dict], keep: set[str] | None = None) -> dict[str, dict]:
    """Merge this run's ``rows`` into the runs kept in ``path`` (JSON, one entry per notebook); newest wins.

    ``keep``, when given, names the notebooks that still exist: rows of removed notebooks are dropped.
    """
    runs = {}
    if path.exists():
        try:
            runs = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            runs = {}  # a damaged file only loses the older rows; this run's rows are still written
    for row in rows:
        runs[row["notebook"]] = row
    if keep is not None:
        runs = {name: row for name, row in runs.items() if name in keep}
    runs = dict(sorted(runs.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs, indent=2), encoding="utf-8")
    return runs


def write_report(runs: dict[str, dict], out: Path) -> Path:
    """Markdown table: notebook, status, wall time, recorded figures, and when, in which mode, on what machine."""
    machines = sorted({row["machine"] for row in runs.values()})
    lines = [
        "# cvlib course: run report",
        "",
        f"Written {dt.datetime.now():%Y-%m-%d %H:%M}; each row is the latest run of its notebook "
        "(`make run`, or `make run NB=..` for some of them).",
        "",
        "| notebook | status | wall time | figures | mode | run |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in runs.items():
        figs = ", ".join(f"{k} = {report.show(v)}" for k, v in row.get("figures", {}).items())
        shown = row["status"] if not row["detail"] else f"{row['status']} ({row['detail']})"
        where = f"machine {machines.index(row['machine']) + 1}" if len(machines) > 1 else "the machine below"
        lines.append(
            f"| {name} | {shown.replace('|', '/')} | {row['seconds']:.0f} s | {figs or '-'} | {row['mode']} "
            f"| {row['date']}, {where} |"
        )
    lines.append("")
    lines.extend(
        f"Machine{f' {i}' if len(machines) > 1 else ''}: {text}." for i, text in enumerate(machines, 1)
    )
    lines += ["", "## Where the time goes", "",
              "The three slowest cells of each notebook's latest run, and the machine's load average (1 minute) "
              "when the notebook started and ended: a run is quiet when both are well under the number of cores.", "",
              "| notebook | load | slowest cells (index: seconds, first line) |", "|---|---|---|"]
    for name, row in runs.items():
        cells = "; ".join(f"{c['cell']}: {c['seconds']:.0f} s `{c['first_line'].replace('|', '/')}`"
                          for c in row.get("slowest_cells", []))
        load = " -> ".join(f"{x:.1f}" for x in row["load"]) if row.get("load") else "-"
        lines.append(f"| {name} | {load} | {cells or '-'} |")
    checked = [(name, t) for name, row in runs.items() for t in row.get("targets", [])]
    if checked:
        lines += ["", "## Targets", "", "Each notebook's declared targets for the mode it ran in.", "",
                  "| notebook | figure | target | mode | measured | verdict |", "|---|---|---|---|---|---|"]
        for name, t in checked:
            measured = "not recorded" if t["measured"] is None else report.show(t["measured"])
            verdict = "pass" if t["met"] else "**missed**"
            lines.append(f"| {name} | {t['figure']} | {t['comparison']} {report.show(t['value'])} | {t['mode']} "
                         f"| {measured} | {verdict} |")
    path = out / "REPORT.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only notebooks whose name starts with this, e.g. 01")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="folder of notebooks to run")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory")
    parser.add_argument("--timeout", type=float, help="per-cell wall limit in seconds (fast 600, full 1800)")
    parser.add_argument("--notebook-timeout", type=float, help="whole-notebook wall limit (fast 900, full 3600)")
    parser.add_argument("--fast", action="store_true", help="fast mode (CVLIB_FAST=1) instead of full")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a variable of the parameters cell, e.g. SEED=3 (repeatable)")
    args = parser.parse_args(argv)
    params = parse_params(args.param)
    mode = "fast" if args.fast else "full"
    cell_timeout = args.timeout or LIMITS[mode][0]
    notebook_timeout = args.notebook_timeout or LIMITS[mode][1]

    notebooks = sorted(p for p in Path(args.notebooks).glob("*.ipynb") if p.name.startswith(args.only))
    if not notebooks:
        print(f"no notebook in {args.notebooks} matches {args.only!r}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()  # the kernels run in the notebooks' folder: they need an absolute path
    figures_dir = out / "figures"
    for nb in notebooks:  # this run's figures and targets only
        for stale in (figures_dir / f"{nb.stem}.json", figures_dir / f"{nb.stem}{report.TARGETS_SUFFIX}"):
            stale.unlink(missing_ok=True)
    # The kernels' environment; this process's own stays as it is (the runner is also called from tests).
    env = {**os.environ, report.REPORT_DIR_ENV: str(figures_dir), "CVLIB_FAST": "1" if args.fast else "0"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    rows, problems = [], []
    here = report.machine()
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.stem} ...", flush=True)
        started = dt.datetime.now()
        load_before = os.getloadavg()[0]
        result, slowest = execute(path, out, cell_timeout, notebook_timeout, env, params, mode)
        suffix = f" - {result.detail}" if result.detail else ""
        print(f"[{i}/{len(notebooks)}] {path.stem}: {result.status} in {result.seconds:.0f} s{suffix}", flush=True)
        targets, missed = check_targets(path.stem, figures_dir, mode)
        for t in targets:
            shown = "not recorded" if t["measured"] is None else report.show(t["measured"])
            verdict = "pass" if t["met"] else "MISSED"
            print(f"    target {t['figure']} {t['comparison']} {report.show(t['value'])} ({t['mode']}): "
                  f"{shown} {verdict}", flush=True)
        problems += missed
        rows.append({
            "notebook": path.stem, "status": result.status, "seconds": round(result.seconds, 1),
            "detail": result.detail, "mode": mode, "date": f"{started:%Y-%m-%d %H:%M}", "machine": here,
            "params": params, "figures": report.load(figures_dir).get(path.stem, {}), "targets": targets,
            "slowest_cells": slowest, "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        })
        # after each notebook, so a long run that is interrupted keeps the rows it has
        runs = merge_runs(out / "runs.json", rows, {p.stem for p in Path(args.notebooks).glob("*.ipynb")})
        report_path = write_report(runs, out)

    failed = [row["notebook"] for row in rows if row["status"] != execution.OK]
    print(f"{len(rows) - len(failed)} of {len(rows)} notebooks ran; report: {report_path}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    for problem in problems:
        print(f"target: {problem}", file=sys.stderr)
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())
