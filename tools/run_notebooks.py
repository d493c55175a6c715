"""Execute the course's notebooks headless and write the report (the engine of ``make run``).

For every notebook in ``notebooks/`` (or those whose name starts with ``--only``):
execute it with nbclient in its own directory, print a progress line (name,
elapsed, status), write ``build/executed/NAME.ipynb`` and ``build/html/NAME.html``,
and collect the figures the notebook recorded through ``cvlib.report.record``.
A failing notebook is reported with its failing cell and the run goes on.
``build/REPORT.md`` gets one row per notebook; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
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


def execute(path: Path, out: Path, timeout: int) -> tuple[str, float, str]:
    """Run one notebook; return (status, seconds, detail)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    status, detail = "ok", ""
    try:
        client.execute()
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


def write_report(rows: list[tuple[str, str, float, str]], figures: dict, out: Path, fast: bool) -> Path:
    """Markdown table: notebook, status, wall time, recorded figures."""
    lines = [
        "# cvlib course: run report",
        "",
        f"{dt.datetime.now():%Y-%m-%d %H:%M}, {'fast' if fast else 'full'} mode, "
        f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores.",
        "",
        "| notebook | status | wall time | figures |",
        "|---|---|---|---|",
    ]
    for name, status, seconds, detail in rows:
        figs = ", ".join(f"{k} = {report.show(v)}" for k, v in figures.get(name, {}).items())
        shown = status if not detail else f"{status} ({detail})"
        lines.append(f"| {name} | {shown.replace('|', '/')} | {seconds:.0f} s | {figs or '-'} |")
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
    os.environ[report.REPORT_DIR_ENV] = str(figures_dir)
    os.environ["CVLIB_FAST"] = "1" if args.fast else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    rows = []
    for i, path in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {path.stem} ...", flush=True)
        status, seconds, detail = execute(path, out, args.timeout)
        suffix = f" - {detail}" if detail else ""
        print(f"[{i}/{len(notebooks)}] {path.stem}: {status} in {seconds:.0f} s{suffix}", flush=True)
        rows.append((path.stem, status, seconds, detail))

    path = write_report(rows, report.load(figures_dir), out, args.fast)
    failed = [name for name, status, *_ in rows if status != "ok"]
    print(f"{len(rows) - len(failed)} of {len(rows)} notebooks ran; report: {path}")
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
