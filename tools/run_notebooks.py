"""Execute the course's notebooks headless and write the report (the engine of ``make run``).

For every notebook in ``notebooks/`` (or those whose name starts with ``--only``):
execute it with nbclient in its own directory, print a progress line (name,
elapsed, status), write ``build/executed/NAME.ipynb`` and ``build/html/NAME.html``,
and collect the figures the notebook recorded through ``cvlib.report.record``.
A failing notebook is reported with its failing cell and the run goes on.
``build/REPORT.md`` has one row per notebook, with the date, the mode and the
machine of its run: a run of some notebooks (``--only 05``) replaces their rows
and keeps the others (kept in ``build/runs.json``), so the newest run of each
notebook wins. The exit status is 1 if any notebook of this run failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cvlib import report  # noqa: E402


def failing_cell(nb) -> tuple[int, str]:
    """Index and first line of the error of the first cell whose output is an error."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, f"{output.get('ename')}: {output.get('evalue')}".strip()[:300]
    return -1, "unknown error"


def execute(path: Path, out: Path, timeout: int, env: dict | None = None) -> tuple[str, float, str]:
    """Run one notebook, its kernel in environment ``env`` (default: ours); return (status, seconds, detail)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    status, detail = "ok", ""
    try:
        client.execute(env=dict(os.environ if env is None else env))
    except CellExecutionError:
        index, message = failing_cell(nb)
        status, detail = "FAILED", f"cell {index}: {message}"
    except (CellTimeoutError, DeadKernelError) as err:
        status, detail = "FAILED", f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
    seconds = time.perf_counter() - start
    (out / "executed").mkdir(parents=True, exist_ok=True)
    (out / "html").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / "executed" / path.name)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (out / "html" / f"{path.stem}.html").write_text(html, encoding="utf-8")
    return status, seconds, detail


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


def write_report(runs: dict[str, dict], figures: dict, out: Path) -> Path:
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
        figs = ", ".join(f"{k} = {report.show(v)}" for k, v in figures.get(name, {}).items())
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
    path = out / "REPORT.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only notebooks whose name starts with this, e.g. 01")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="folder of notebooks to run")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory")
    parser.add_argument("--timeout", type=int, default=3600, help="per-cell time limit in seconds")
    parser.add_argument("--fast", action="store_true", help="fast mode (CVLIB_FAST=1) instead of full")
    args = parser.parse_args(argv)

    notebooks = sorted(p for p in Path(args.notebooks).glob("*.ipynb") if p.name.startswith(args.only))
    if not notebooks:
        print(f"no notebook in {args.notebooks} matches {args.only!r}", file=sys.stderr)
        return 2
    out = Path(args.out)
    figures_dir = out / "figures"
    for stale in figures_dir.glob("*.json"):
        if any(stale.stem == nb.stem for nb in notebooks):
            stale.unlink()
    # The kernels' environment; this process's own stays as it is (the runner is also called from tests).
    env = {**os.environ, report.REPORT_DIR_ENV: str(figures_dir), "CVLIB_FAST": "1" if args.fast else "0"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    rows = []
    here = report.machine()
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.stem} ...", flush=True)
        started = dt.datetime.now()
        status, seconds, detail = execute(path, out, args.timeout, env)
        suffix = f" - {detail}" if detail else ""
        print(f"[{i}/{len(notebooks)}] {path.stem}: {status} in {seconds:.0f} s{suffix}", flush=True)
        rows.append({
            "notebook": path.stem, "status": status, "seconds": round(seconds, 1), "detail": detail,
            "mode": "fast" if args.fast else "full", "date": f"{started:%Y-%m-%d %H:%M}", "machine": here,
        })
        # after each notebook, so a long run that is interrupted keeps the rows it has
        runs = merge_runs(out / "runs.json", rows, {p.stem for p in Path(args.notebooks).glob("*.ipynb")})
        path = write_report(runs, report.load(figures_dir), out)

    failed = [row["notebook"] for row in rows if row["status"] != "ok"]
    print(f"{len(rows) - len(failed)} of {len(rows)} notebooks ran; report: {path}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
