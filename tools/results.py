"""The README's results table, made from recorded runs only (``make results``).

``make run`` keeps every notebook's latest run in ``build/runs.json``: status, wall time, load
average, the figures it recorded and its targets checked. This command
1. copies the full-mode runs that ended ``ok`` into ``results/runs.json``, the course's record
   (committed, so the table can be rebuilt and checked on any clone); the newest run of a notebook
   replaces the older one;
2. rewrites the README's section between ``<!-- results:begin -->`` and ``<!-- results:end -->``
   from that record, so no figure appears there that a run did not record.

``--check`` only verifies that the README's section is what the record gives (the tests call it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cvlib.report import show  # noqa: E402

RECORD = ROOT / "results" / "runs.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
QUIET_LOAD = 1.0  # 1-minute load average under which a 2-core machine counts as quiet


def merge(record: dict, runs: dict) -> dict:
    """``record`` with the full-mode, ``ok`` rows of ``runs`` added; a newer run of a notebook replaces an older one."""
    merged = dict(record)
    for name, row in runs.items():
        if row.get("mode") == "full" and row.get("status") == "ok" and row.get("date", "") >= merged.get(
            name, {}
        ).get("date", ""):
            merged[name] = row
    return dict(sorted(merged.items()))


def _wall(row: dict) -> str:
    load = row.get("load") or []
    busy = max(load) if load else None
    text = f"{row['seconds']:.0f} s"
    if busy is None:
        return f"{text} (load not recorded)"
    return text if busy < QUIET_LOAD else f"{text} (machine busy: load {busy:.1f})"


def _targets(row: dict) -> str:
    shown = []
    for t in row.get("targets", []):
        measured = "not recorded" if t["measured"] is None else show(t["measured"])
        verdict = "met" if t["met"] else "**missed**"
        shown.append(f"{t['figure']} {t['comparison']} {show(t['value'])}: {measured}, {verdict}")
    return "; ".join(shown) or "-"


def table(record: dict, notebooks: list[str]) -> str:
    """The README section: one row per notebook, from its recorded full run if it has one."""
    machines = sorted({row["machine"] for row in record.values()})
    lines = [
        "Made by `make results` from `results/runs.json`, the record of `make run`'s full-mode runs; each row is "
        "the latest recorded run of its notebook.",
        "",
        "| notebook | wall time | targets (full mode) | figures recorded | run |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(set(notebooks) | set(record)):
        row = record.get(name)
        if row is None:
            lines.append(f"| {name} | - | no full run recorded yet | - | - |")
            continue
        figures = ", ".join(f"{k} = {show(v)}" for k, v in row.get("figures", {}).items()) or "-"
        where = f"machine {machines.index(row['machine']) + 1}" if len(machines) > 1 else "the machine below"
        lines.append(f"| {name} | {_wall(row)} | {_targets(row)} | {figures} | {row['date']}, {where} |")
    lines.append("")
    lines.extend(f"Machine{f' {i}' if len(machines) > 1 else ''}: {m}." for i, m in enumerate(machines, 1))
    return "\n".join(lines)


def rewrite(readme: str, section: str) -> str:
    """``readme`` with the text between the markers replaced by ``section``."""
    if readme.count(BEGIN) != 1 or readme.count(END) != 1 or readme.index(BEGIN) > readme.index(END):
        raise ValueError(f"README.md: expected one {BEGIN} ... {END} section")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{section}\n{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(ROOT / "build" / "runs.json"), help="runs kept by make run")
    parser.add_argument("--record", default=str(RECORD), help="the course's record of full runs")
    parser.add_argument("--readme", default=str(README))
    parser.add_argument("--check", action="store_true", help="only check that the README matches the record")
    args = parser.parse_args(argv)

    record_path, readme_path = Path(args.record), Path(args.readme)
    record = json.loads(record_path.read_text()) if record_path.exists() else {}
    if not args.check:
        runs_path = Path(args.runs)
        runs = json.loads(runs_path.read_text()) if runs_path.exists() else {}
        record = merge(record, runs)
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(json.dumps(record, indent=2) + "\n")
    readme = readme_path.read_text()
    notebooks = [p.stem for p in (ROOT / "notebooks").glob("*.ipynb")]
    wanted = rewrite(readme, table(record, notebooks))
    if args.check:
        if wanted != readme:
            print(f"{readme_path}: the results section differs from {record_path}; run `make results`", file=sys.stderr)
            return 1
        return 0
    readme_path.write_text(wanted)
    print(f"{len(record)} notebooks in {record_path}; README results rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
