"""How much each full-mode target moves with the seed: the record of runs with other seeds, and the README's table.

A target counts as met only when the worst of its seeds meets it. ``make run`` with ``--param SEED=N`` (see
``tools/run_notebooks.py``) writes a ``runs.json`` per run folder; this command

1. adds the full-mode runs that measured every target or missed one to ``results/seeds.json``, one
   entry per notebook and seed (a newer run of the same seed replaces the older). The runs of the notebook's own
   default seed come from ``results/runs.json`` (``make results``'s record), so they are never kept twice;
2. rewrites the README's table between ``<!-- seeds:begin -->`` and ``<!-- seeds:end -->``: per notebook and
   target, the value of every seed, their mean, the worst, and whether every seed meets the target.

    python tools/seeds.py [--runs DIR/runs.json ...] [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import results  # noqa: E402 - beside this file: the full-mode record and the README's rewriting
from cvlib.report import show  # noqa: E402

SEEDS = ROOT / "results" / "seeds.json"
MARKERS = ("<!-- seeds:begin -->", "<!-- seeds:end -->")
NOTEBOOKS = ROOT / "notebooks"


def default_seed(notebook: Path) -> int:
    """The ``SEED = N`` of a notebook's parameters cell (its second cell)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    source = "".join(cells[1]["source"]) if len(cells) > 1 else ""
    match = re.search(r"^SEED = (\d+)", source, flags=re.M)
    if not match:
        raise ValueError(f"{notebook.name}: no 'SEED = <int>' line in its parameters cell")
    return int(match.group(1))


def seed_of(row: dict, defaults: dict[str, int]) -> int:
    """The seed a run used: its ``SEED`` parameter, else the notebook's default."""
    return int(row.get("params", {}).get("SEED", defaults[row["notebook"]]))


def merge(record: dict, runs: list[dict], defaults: dict[str, int]) -> dict:
    """``record`` ({notebook: {seed: row}}) with the full-mode runs of other seeds than the default added.

    A run counts once it measured every full-mode target, or missed one: a notebook stops at the check of a missed
    target, before recording the figures after it, and that miss is exactly what the record must keep.
    """
    merged = {name: dict(by_seed) for name, by_seed in record.items()}
    for row in runs:
        if row.get("mode") != "full" or row["notebook"] not in defaults:
            continue
        if not results.is_measurement(row):
            continue  # it ended before recording its figures, not at a missed target
        seed = seed_of(row, defaults)
        if seed == defaults[row["notebook"]]:
            continue  # the default seed's run is make results's record
        kept = merged.setdefault(row["notebook"], {}).get(str(seed))
        if kept is None or row.get("date", "") >= kept.get("date", ""):
            merged[row["notebook"]][str(seed)] = {key: row[key] for key in ("status", "date", "machine", "params",
                                                                            "figures", "targets", "seconds")}
    return {name: dict(sorted(by_seed.items(), key=lambda item: int(item[0]))) for name, by_seed in
            sorted(merged.items())}


def spread_rows(record: dict, full: dict, defaults: dict[str, int]) -> list[dict]:
    """One row per notebook and full-mode target: every seed's value, mean, worst, whether all met it."""
    rows = []
    for name, others in record.items():
        by_seed = dict(others)
        if name in full:
            by_seed[str(seed_of(full[name], defaults))] = full[name]
        by_seed = dict(sorted(by_seed.items(), key=lambda item: int(item[0])))
        if len(by_seed) < 2:
            continue
        first = next(iter(by_seed.values()))
        for target in first.get("targets", []):
            if target["mode"] == "fast":  # a fast-mode floor; "full" and "both" apply to full runs
                continue
            values, machines = {}, {}
            for seed, run in by_seed.items():
                found = [t for t in run.get("targets", []) if t["figure"] == target["figure"] and t["mode"] != "fast"]
                if found and found[0]["measured"] is not None:
                    values[int(seed)] = (found[0]["measured"], found[0]["met"])
                    machines[int(seed)] = run.get("machine", "")
            numbers = [v for v, _ in values.values()]
            higher_is_better = target["comparison"] in (">", ">=")
            worst = min(numbers) if higher_is_better else max(numbers)
            rows.append({"notebook": name, "figure": target["figure"],
                         "target": f"{target['comparison']} {show(target['value'])}", "values": values,
                         "machines": machines,
                         "mean": statistics.fmean(numbers), "worst": worst,
                         "all_met": all(met for _, met in values.values()) and len(values) == len(by_seed)})
    return rows


def table(rows: list[dict]) -> str:
    """The README's block: one line per notebook and target.

    When the runs come from more than one machine, the machines are numbered as in the README's other tables
    (``results.number_machines``) and listed below; a notebook whose seeds ran on different machines names the
    machine after each value (figures move in their third decimal from one machine to another).
    """
    known = results.number_machines(m for row in rows for m in row.get("machines", {}).values())
    lines = ["Made by `python tools/seeds.py` from `results/seeds.json` (runs with other seeds) and "
             "`results/runs.json` (each notebook's default seed), full mode.", "",
             "| notebook | figure | target | value per seed | mean | worst | every seed meets it |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        machines = row.get("machines", {})
        where = {seed: f" (machine {known.index(m) + 1})" if len(set(machines.values())) > 1 else ""
                 for seed, m in machines.items()}
        values = ", ".join(f"{seed}: {show(number)}{where.get(seed, '')}"
                           for seed, (number, _) in sorted(row["values"].items()))
        lines.append(f"| {row['notebook']} | {row['figure']} | {row['target']} | {values} | {show(row['mean'])} "
                     f"| {show(row['worst'])} | {'yes' if row['all_met'] else '**no**'} |")
    if len(known) > 1:
        lines += ["", *(f"Machine {i}: {machine}." for i, machine in enumerate(known, 1))]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=[], type=Path, help="runs.json files of make run")
    parser.add_argument("--record", type=Path, default=SEEDS)
    parser.add_argument("--readme", type=Path, default=results.README)
    parser.add_argument("--check", action="store_true", help="only check that the README matches the record")
    args = parser.parse_args(argv)
    defaults = {path.stem: default_seed(path) for path in sorted(NOTEBOOKS.glob("*.ipynb"))}
    record = json.loads(args.record.read_text()) if args.record.exists() else {}
    runs = [row for path in args.runs for row in json.loads(path.read_text()).values()]
    merged = merge(record, runs, defaults)
    full, _ = results.records()
    block = table(spread_rows(merged, full, defaults))
    readme = args.readme.read_text(encoding="utf-8")
    rewritten = results.rewrite(readme, block, MARKERS)
    if args.check:
        if merged != record or rewritten != readme:
            print("README.md's seeds table is not what results/seeds.json gives: run python tools/seeds.py",
                  file=sys.stderr)
            return 1
        return 0
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(merged, indent=2) + "\n")
    args.readme.write_text(rewritten, encoding="utf-8")
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
