"""The README's results table, made from recorded runs only (``make results``).

``make run`` keeps every notebook's latest run in ``build/runs.json``: status, wall time, load
average, the figures it recorded and its targets checked. This command
1. copies the full-mode runs into ``results/runs.json`` and the fast-mode ones into
   ``results/fast_runs.json``, the course's record (committed, so the tables can be rebuilt and
   checked on any clone); the newest run of a notebook replaces the older one. A run counts when it
   ended ``ok`` or stopped at the check of a target it missed (``is_measurement``): a miss is a
   result the record must show, and keeping an older passing run instead would hide it;
2. rewrites the README's sections between ``<!-- results:begin -->`` and ``<!-- results:end -->``
   (figures and targets of the full runs) and between ``<!-- times:begin -->`` and
   ``<!-- times:end -->`` (every notebook's full and fast wall time), and the run-time sentence
   between ``<!-- runtime:begin -->`` and ``<!-- runtime:end -->`` in each notebook's title cell,
   from that record, so no figure or time appears there that a run did not record. ``make bench``
   prints the same times table.

``--check`` only verifies that the README's sections and the notebooks' run times are what the
record gives (the tests call it).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from cvlib.report import show  # noqa: E402

RECORD = ROOT / "results" / "runs.json"
FAST_RECORD = ROOT / "results" / "fast_runs.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
TIMES = ("<!-- times:begin -->", "<!-- times:end -->")
RUNTIME = ("<!-- runtime:begin -->", "<!-- runtime:end -->")  # in each notebook's title cell
# A notebook's own TensorFlow threads keep every core busy, so a quiet run's 1-minute load average is up
# to the machine's number of cores; more means something else shared it.
SPARE_LOAD = 0.5


def is_measurement(row: dict) -> bool:
    """Whether a run measured what it promises: it ended ``ok``, or it measured every target of its mode, or it
    missed one (a notebook stops at the check of a missed target, before recording the figures after it, and
    that miss is exactly what a record must keep). A run that failed before recording its figures is not one."""
    if row.get("status") == "ok":
        return True
    applying = [t for t in row.get("targets", []) if t["mode"] in (row.get("mode"), "both")]
    measured = [t for t in applying if t["measured"] is not None]
    return bool(measured) and (len(measured) == len(applying) or not all(t["met"] for t in measured))


def merge(record: dict, runs: dict, mode: str = "full") -> dict:
    """``record`` with the measurements of ``runs`` in ``mode`` added; a newer run of a notebook replaces the older.

    A run with parameters overridden (``make run SEED=1``) is not the notebook as it ships: tools/seeds.py keeps it.
    """
    merged = dict(record)
    for name, row in runs.items():
        if row.get("params"):
            continue
        if row.get("mode") == mode and is_measurement(row) and row.get("date", "") >= merged.get(
            name, {}
        ).get("date", ""):
            merged[name] = row
    return dict(sorted(merged.items()))


def _busy(row: dict) -> float | None:
    """The highest load average recorded around the run (None when none was recorded)."""
    load = row.get("load") or []
    return max(load) if load else None


def _quiet(row: dict) -> bool:
    """Whether nothing else shared the machine: the load stayed within its cores (named in ``row["machine"]``)."""
    cores = re.search(r"(\d+) cores?", row.get("machine", ""))
    busy = _busy(row)
    return busy is not None and cores is not None and busy <= int(cores.group(1)) + SPARE_LOAD


def _wall(row: dict) -> str:
    busy = _busy(row)
    text = f"{row['seconds']:.0f} s"
    if busy is None:
        return f"{text} (load not recorded)"
    return text if _quiet(row) else f"{text} (machine busy: load {busy:.1f})"


def _targets(row: dict) -> str:
    shown = []
    for t in row.get("targets", []):
        measured = "not recorded" if t["measured"] is None else show(t["measured"])
        verdict = "met" if t["met"] else "**missed**"
        shown.append(f"{t['figure']} {t['comparison']} {show(t['value'])}: {measured}, {verdict}")
    return "; ".join(shown) or "-"


def number_machines(machines) -> list[str]:
    """Machine names in the order every README table numbers them ("machine 1" first): sorted, each once."""
    return sorted(set(machines))


def machines_of(*records: dict) -> list[str]:
    """The machines the runs of ``records`` ran on, numbered as in every README table (``number_machines``)."""
    return number_machines(row["machine"] for record in records for row in record.values())


def table(record: dict, notebooks: list[str]) -> str:
    """The README section: one row per notebook, from its recorded full run if it has one."""
    machines = machines_of(record)
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


def times_table(full: dict, fast: dict, notebooks: list[str]) -> str:
    """Every notebook's recorded wall time in full and in fast mode, with the totals (Markdown)."""
    lines = [
        "Wall times of the latest recorded `make run` (full mode) and `make run FAST=1` runs of each notebook, "
        "made by `make results`. A run is quiet when the load average around it stayed within the machine's "
        f"cores (+{SPARE_LOAD}): the notebook's own threads keep every core busy.",
        "",
        "| notebook | full mode | fast mode |",
        "|---|---|---|",
    ]
    names = sorted(set(notebooks) | set(full) | set(fast))
    machines = machines_of(full, fast)

    def cell(row: dict) -> str:
        # with runs from several machines, each time names its machine: times are only comparable on one
        return _wall(row) + (f", machine {machines.index(row['machine']) + 1}" if len(machines) > 1 else "")

    for name in names:
        cells = [cell(record[name]) if name in record else "not recorded" for record in (full, fast)]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    totals = []
    for record in (full, fast):
        rows = [record[name] for name in names if name in record]
        quiet = all(_quiet(row) for row in rows)
        total = f"{sum(row['seconds'] for row in rows) / 60:.1f} min" if rows else "-"
        busy = "" if quiet or not rows else ", not all quiet"
        # a sum over runs on different machines is no one machine's time: say so next to it
        count = len({row["machine"] for row in rows})
        mixed = f", on {count} machines" if count > 1 else ""
        totals.append(f"{total} ({len(rows)} of {len(names)} notebooks{busy}{mixed})")
    lines.append(f"| **total** | {totals[0]} | {totals[1]} |")
    dates = sorted(row["date"] for record in (full, fast) for row in record.values())
    if dates and len(machines) > 1:
        lines += ["", f"Runs from {dates[0][:10]} to {dates[-1][:10]}."]
        lines += [f"Machine {i}: {m}." for i, m in enumerate(machines, 1)]
    elif dates:
        lines += ["", f"Runs from {dates[0][:10]} to {dates[-1][:10]} on {machines[0]}."]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def runtime_sentence(full_row: dict | None, fast_row: dict | None) -> str:
    """The run-time sentence of a notebook's title cell, from its latest recorded full and fast runs (one line)."""
    parts = []
    for row, mode in ((full_row, "full mode"), (fast_row, "fast mode (`CVLIB_FAST=1`)")):
        if row is None:
            parts.append(f"{mode} not recorded yet")
        else:
            parts.append(f"{mode} {_duration(row['seconds'])}{'' if _quiet(row) else ' (on a busy machine)'}")
    return f"**Run time**, as last recorded by `make run` on a 2-core CPU: {'; '.join(parts)}."


def rewrite_runtime(text: str, sentence: str, name: str = "notebook") -> str:
    """``text`` (a notebook file's JSON) with the line between the ``RUNTIME`` markers replaced by ``sentence``.

    Each marker is a line of its own: a line that starts with an HTML comment is an HTML block in Markdown, and
    a sentence on the same line would be shown as raw text, its ``**`` and backticks included.
    """
    begin, end = RUNTIME
    # begin, the sentence and end are three strings of the cell's source list in the file
    pattern = re.escape(begin) + r'\\n",(\s*)"(?:[^"\\]|\\.)*",\s*"' + re.escape(end)
    if text.count(begin) != 1 or text.count(end) != 1 or not re.search(pattern, text):
        raise ValueError(f"{name}: expected one {begin} line, the run-time line, then one {end} line in its title cell")
    escaped = json.dumps(sentence + "\n")[1:-1]  # the line sits inside a JSON string of the notebook file
    return re.sub(pattern, lambda m: f'{begin}\\n",{m.group(1)}"{escaped}",{m.group(1)}"{end}', text)


def rewrite(readme: str, section: str, markers: tuple[str, str] = (BEGIN, END)) -> str:
    """``readme`` with the text between the ``markers`` replaced by ``section``."""
    begin, end = markers
    if readme.count(begin) != 1 or readme.count(end) != 1 or readme.index(begin) > readme.index(end):
        raise ValueError(f"README.md: expected one {begin} ... {end} section")
    head, rest = readme.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{section}\n{end}{tail}"


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def records(full_path: Path = RECORD, fast_path: Path = FAST_RECORD) -> tuple[dict, dict]:
    """The committed records of full-mode and fast-mode runs."""
    return _load(full_path), _load(fast_path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(ROOT / "build" / "runs.json"), help="runs kept by make run")
    parser.add_argument("--record", default=str(RECORD), help="the course's record of full runs")
    parser.add_argument("--fast-record", default=str(FAST_RECORD), help="the course's record of fast runs")
    parser.add_argument("--readme", default=str(README))
    parser.add_argument("--check", action="store_true", help="only check that the README matches the record")
    args = parser.parse_args(argv)

    paths = {"full": Path(args.record), "fast": Path(args.fast_record)}
    readme_path = Path(args.readme)
    kept = {mode: _load(path) for mode, path in paths.items()}
    if not args.check:
        runs = _load(Path(args.runs))
        for mode, path in paths.items():
            kept[mode] = merge(kept[mode], runs, mode)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(kept[mode], indent=2) + "\n")
    readme = readme_path.read_text()
    notebook_paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    notebooks = [p.stem for p in notebook_paths]
    wanted = rewrite(readme, table(kept["full"], notebooks))
    wanted = rewrite(wanted, times_table(kept["full"], kept["fast"], notebooks), TIMES)
    stale = [readme_path.name] if wanted != readme else []
    for path in notebook_paths:
        text = path.read_text(encoding="utf-8")
        sentence = runtime_sentence(kept["full"].get(path.stem), kept["fast"].get(path.stem))
        new = rewrite_runtime(text, sentence, path.name)
        if new != text:
            stale.append(path.name)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check:
        if stale:
            print(f"{', '.join(stale)}: run times or results differ from {paths['full']} and {paths['fast']}; "
                  "run `make results`", file=sys.stderr)
            return 1
        return 0
    readme_path.write_text(wanted)
    changed = ", ".join(stale) or "nothing"
    print(f"{len(kept['full'])} full and {len(kept['fast'])} fast runs in results/; rewrote {changed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
