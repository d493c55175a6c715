"""The course on Python 3.11, 3.12 and 3.13, and on the newest releases (``make test-compat``, for maintainers).

For each Python it finds (pyenv's versions first, then ``python3.X`` on PATH; one that is missing is
skipped with a line saying so), a virtual environment ``build/compat/py3.X/`` with the pinned
``requirements.txt`` and cvlib (``pip install --no-deps -e .``); then one more on Python 3.11,
``build/compat/latest/``, with the newest release of every package ``requirements.txt`` names (its
names without their pins). In each: the unit tests (pytest, without the tests that execute the
course's notebooks) and three quick notebooks in fast mode, both inside ``tools/offline.py``'s
sandbox with ``CVLIB_FAST=1``, as ``make test`` runs them.

An environment is reused while its requirements are unchanged: a stamp file holds their hash, so a
second run only tests. ``--refresh`` reinstalls (the ``latest`` environment then takes the releases
of the day). A failed install is a row with pip's last error line; the other rows still run.

The table (Python, TensorFlow, Keras, NumPy, unit tests and notebooks passed / failed, minutes) is
printed and written to ``build/compat/COMPAT.md``; each row is the latest run of its environment
(kept in ``build/compat/results.json``), so ``--only latest`` redoes one row and keeps the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "compat"
PYTHONS = ("3.11", "3.12", "3.13")
LATEST_ON = "3.11"  # the newest releases are tried on the supported Python
# Three quick fast-mode notebooks: box maths and mAP (01, no training), dilated convolutions (13), and the Siamese
# losses (08): both train with model.fit, and they are the shortest of those in results/fast_runs.json.
NOTEBOOKS = ("01", "13", "08")
# The tests that execute the course's notebooks (each runs some or all of them): the three notebooks
# above stand for them here, so a row stays within minutes.
NOTEBOOK_TESTS = ("tests/test_notebooks_run.py", "tests/test_floors.py", "tests/test_assignments.py",
                  "tests/test_reproducible.py")
DESELECT = ("tests/test_offline.py::test_the_suite_runs_offline",)  # runs the whole suite and notebook 01 again
PYTEST_LIMIT = 30 * 60  # seconds, per environment
NOTEBOOK_LIMITS = ("600", "900")  # per cell, per notebook (run_notebooks.py's fast-mode limits)
NICE = ["nice", "-n", "19"] if shutil.which("nice") else []


@dataclass
class Row:
    """One environment's run: what it has and how its tests went."""

    name: str  # "py3.12" or "latest"
    python: str  # "3.12.1"
    requirements: str  # "pinned" or "newest"
    versions: dict[str, str] = field(default_factory=dict)
    tests: dict[str, int] | None = None  # passed / failed / errors / skipped ...
    notebooks: dict[str, str] = field(default_factory=dict)  # "01" -> "ok" / "FAILED ..."
    minutes: float = 0.0
    error: str = ""  # a failed install: pip's last error line
    failures: list[str] = field(default_factory=list)  # failed test ids and notebook lines
    date: str = ""


# ---------------------------------------------------------------- finding the Pythons

def _version_of(executable: Path) -> str | None:
    """``"3.12.1"`` for a working interpreter, None for anything else (a pyenv shim without that version...)."""
    try:
        done = subprocess.run([str(executable), "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def _patch_key(path: Path) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.]", path.name))


def candidates(minor: str, path: str | None = None, pyenv_root: str | None = None) -> list[Path]:
    """Interpreters that may be Python ``minor`` ("3.12"): pyenv's installs (newest patch first), then PATH."""
    found = []
    root = Path(pyenv_root or os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = root / "versions"
    if versions.is_dir():
        for folder in sorted(versions.glob(f"{minor}.*"), key=_patch_key, reverse=True):
            if re.fullmatch(rf"{re.escape(minor)}\.\d+", folder.name):
                found.append(folder / "bin" / f"python{minor}")
    for folder in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep):
        if folder:
            found.append(Path(folder) / f"python{minor}")
    return [p for p in dict.fromkeys(found) if p.is_file() and os.access(p, os.X_OK)]


def find_python(minor: str, path: str | None = None, pyenv_root: str | None = None) -> tuple[Path, str] | None:
    """The first interpreter of ``candidates`` that runs and is Python ``minor``: (executable, full version)."""
    for executable in candidates(minor, path, pyenv_root):
        version = _version_of(executable)
        if version and version.rsplit(".", 1)[0] == minor:
            return executable, version
    return None


# ---------------------------------------------------------------- requirements and stamps

def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file: comments, blank lines and pip options left out."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            lines.append(line)
    return lines


def unpinned(text: str) -> list[str]:
    """The packages of a requirements file without their versions (``tensorflow==2.21.0`` -> ``tensorflow``).

    Extras and environment markers stay: ``pkg[x]==1; python_version < "3.13"`` -> ``pkg[x]; python_version < "3.13"``.
    """
    names = []
    for line in requirement_lines(text):
        spec, _, marker = line.partition(";")
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?)", spec)
        if not match:
            raise ValueError(f"requirements.txt: cannot read a package name in {line!r}")
        names.append(match.group(1) + (f"; {marker.strip()}" if marker.strip() else ""))
    return names


def pins(text: str) -> dict[str, str]:
    """``{"tensorflow": "2.21.0", ...}``: the exact pins (``==``) of a requirements file, names in lower case."""
    found = {}
    for line in requirement_lines(text):
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;]+)", line)
        if match:
            found[match.group(1).lower()] = match.group(3)
    return found


def stamp_hash(requirements: list[str], python: str) -> str:
    """What an environment was made from: the requirement lines, the interpreter and cvlib's pyproject.toml."""
    pyproject = (ROOT / "pyproject.toml").read_bytes() if (ROOT / "pyproject.toml").exists() else b""
    text = "\n".join([python, *requirements]).encode() + b"\n" + pyproject
    return hashlib.sha256(text).hexdigest()


def is_current(venv: Path, digest: str) -> bool:
    """True when ``venv`` has a working python and its stamp says it was made from ``digest``."""
    stamp = venv / ".compat-stamp"
    return (venv / "bin" / "python").exists() and stamp.exists() and stamp.read_text().strip() == digest


def write_stamp(venv: Path, digest: str) -> None:
    (venv / ".compat-stamp").write_text(digest + "\n")


def pip_error(output: str) -> str:
    """The line to show for a failed pip run: its last ``ERROR:`` line, else its last non-empty line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["pip failed without a message"])[-1][:300]


# ---------------------------------------------------------------- reading the runs

SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?)\b")


def parse_pytest_summary(output: str) -> dict[str, int] | None:
    """Counts from pytest's closing line (``== 3 failed, 120 passed, 2 skipped in 61.2s ==``), or None."""
    for line in reversed(output.splitlines()):
        if re.search(r"\bin [\d.]+s\b", line) or "no tests ran" in line:
            found = SUMMARY.findall(line)
            if found or "no tests ran" in line:
                counts: dict[str, int] = {}
                for number, word in found:
                    key = {"error": "errors", "warning": "warnings"}.get(word, word)
                    counts[key] = counts.get(key, 0) + int(number)
                return counts
    return None


def failed_tests(output: str, limit: int = 20) -> list[str]:
    """pytest's short summary lines of failures and errors (``FAILED tests/x.py::t - ValueError: ...``)."""
    lines = [line.strip() for line in output.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    return [line[:300] for line in lines[:limit]]


# ---------------------------------------------------------------- the table

HEADER = ("| Python | requirements | TensorFlow | Keras | NumPy | unit tests passed / failed "
          "| notebooks passed / failed | minutes |")


def _tests_cell(row: Row) -> str:
    if row.tests is None:
        return "-"
    failed = row.tests.get("failed", 0) + row.tests.get("errors", 0)
    return f"{row.tests.get('passed', 0)} / {failed}"


def table(rows: list[Row], skipped: list[str], date: str, pinned: dict[str, str] | None = None) -> str:
    """Markdown: one row per environment, a line per Python not found, what the newest releases changed
    (against ``pinned``), and the failures, under the table."""
    lines = [f"Measured {date} (`make test-compat`), CPU only, `CVLIB_FAST=1`, offline; notebooks "
             + ", ".join(NOTEBOOKS) + " in fast mode.", "", HEADER, "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row.error:
            lines.append(f"| {row.python} | {row.requirements} | install failed: {row.error.replace('|', '/')} "
                         f"| - | - | - | - | {row.minutes:.1f} |")
            continue
        ok = sum(1 for status in row.notebooks.values() if status == "ok")
        v = row.versions
        lines.append(f"| {row.python} | {row.requirements} | {v.get('tensorflow', '-')} | {v.get('keras', '-')} "
                     f"| {v.get('numpy', '-')} | {_tests_cell(row)} | {ok} / {len(row.notebooks) - ok} "
                     f"| {row.minutes:.1f} |")
    notes = [f"Python {minor}: not installed, skipped." for minor in skipped]
    for row in rows:
        if row.requirements == "newest" and pinned and not row.error:
            changed = [f"{name} {row.versions[name]}" for name, version in pinned.items()
                       if row.versions.get(name, version) != version]
            notes.append(f"Newest releases other than the pins (Python {row.python}): "
                         + (", ".join(changed) if changed else "none") + ".")
    if notes:
        lines += ["", *notes]
    for row in rows:
        if row.failures:
            lines += ["", f"Failures on Python {row.python} ({row.requirements}):", ""]
            lines += [f"- `{line}`" for line in row.failures]
    return "\n".join(lines).rstrip() + "\n"


def failed(row: Row) -> bool:
    """True when ``row``'s install, a unit test or a notebook failed."""
    tests = row.tests or {}
    notebooks_failed = any(status != "ok" for status in row.notebooks.values())
    return bool(row.error or tests.get("failed") or tests.get("errors") or notebooks_failed)


def load_rows(path: Path) -> dict[str, Row]:
    try:
        return {name: Row(**row) for name, row in json.loads(path.read_text()).items()}
    except (OSError, ValueError, TypeError):
        return {}


# ---------------------------------------------------------------- doing it

def _run(command: list[str], log: Path, timeout: float | None = None, env: dict | None = None
         ) -> subprocess.CompletedProcess:
    """Run ``command`` niced, its output (stdout and stderr together) kept in ``log``; never raises on failure."""
    started = time.monotonic()
    # its own process group, so a run that overstays is stopped with every kernel it started
    process = subprocess.Popen([*NICE, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\ncompat.py: stopped after {timeout:.0f} s\n"
        code = -1
    with log.open("a") as f:
        f.write(f"$ {' '.join(command)}\n{output}\n[exit {code} after {time.monotonic() - started:.0f} s]\n\n")
    return subprocess.CompletedProcess(command, code, output, "")


def _show(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def install(venv: Path, base_python: Path, requirements: list[str], refresh: bool, log: Path) -> str:
    """Make ``venv`` with ``requirements`` and cvlib unless its stamp says it is current; "" or pip's error."""
    digest = stamp_hash(requirements, str(base_python))
    if not refresh and is_current(venv, digest):
        print(f"  {_show(venv)}: up to date", flush=True)
        return ""
    print(f"  {_show(venv)}: installing ...", flush=True)
    if venv.exists():
        shutil.rmtree(venv)
    made = _run([str(base_python), "-m", "venv", str(venv)], log)
    if made.returncode != 0:
        return pip_error(made.stdout)
    python = str(venv / "bin" / "python")
    (venv / "requirements.txt").write_text("\n".join(requirements) + "\n")
    for step in (["install", "--upgrade", "pip"], ["install", "-r", str(venv / "requirements.txt")],
                 ["install", "--no-deps", "-e", str(ROOT)]):
        done = _run([python, "-m", "pip", "--no-input", *step], log)
        if done.returncode != 0:
            return pip_error(done.stdout)
    write_stamp(venv, digest)
    return ""


def versions(python: Path, names: list[str]) -> dict[str, str]:
    """The installed version of TensorFlow, Keras, NumPy and every package in ``names``, in ``python``'s environment."""
    wanted = ["tensorflow", "keras", "numpy", *(re.split(r"[\[;]", n)[0].strip().lower() for n in names)]
    code = ("import importlib.metadata as m, json\n"
            "out = {}\n"
            f"for name in {list(dict.fromkeys(wanted))!r}:\n"
            "    try: out[name] = m.version(name)\n"
            "    except m.PackageNotFoundError: out[name] = 'missing'\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def sandboxed(python: Path, *args: str) -> list[str]:
    """``python args`` inside tools/offline.py's sandbox, as ``make test`` runs its tests."""
    return [str(python), str(ROOT / "tools" / "offline.py"), str(python), *args]


def test_env(python: Path) -> dict:
    env = {**os.environ, "CVLIB_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in ("CVLIB_REPORT_DIR", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    env["PATH"] = os.pathsep.join([str(python.parent), env.get("PATH", "")])  # its jupyter, ruff first
    # Hypothesis keeps its failing examples apart from the course's own .hypothesis/ (make test replays those)
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(python.parent.parent / ".hypothesis")
    return env


def pytest_args() -> list[str]:
    ignores = [f"--ignore={path}" for path in NOTEBOOK_TESTS if (ROOT / path).exists()]
    deselects = [f"--deselect={test}" for test in DESELECT]
    return ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:socket", "--ignore=tests/jax_backend",
            *ignores, *deselects, "tests"]


def run_env(row: Row, venv: Path, log: Path) -> None:
    """The unit tests and the notebooks in ``venv``, into ``row``."""
    python = venv / "bin" / "python"
    env = test_env(python)
    row.versions = versions(python, unpinned((ROOT / "requirements.txt").read_text()))
    print(f"  {row.name}: unit tests ...", flush=True)
    done = _run(sandboxed(python, *pytest_args()), log, PYTEST_LIMIT, env)
    row.tests = parse_pytest_summary(done.stdout)
    row.failures = failed_tests(done.stdout)
    if row.tests is None:
        row.tests = {"passed": 0, "errors": 1}
        row.failures.append(f"pytest ended without a summary (exit {done.returncode}): "
                            + pip_error(done.stdout))
    print(f"  {row.name}: unit tests {_tests_cell(row)} (passed / failed)", flush=True)
    for number in NOTEBOOKS:
        done = _run(sandboxed(python, str(ROOT / "tools" / "run_notebooks.py"), "--fast", "--only", number,
                              "--out", str(venv / "run"), "--timeout", NOTEBOOK_LIMITS[0],
                              "--notebook-timeout", NOTEBOOK_LIMITS[1]), log, 1200, env)
        status = "ok" if done.returncode == 0 else "FAILED"
        if status != "ok":
            said = [line for line in done.stdout.splitlines() if re.match(r"\[\d+/\d+\] \S+: ", line)
                    or line.startswith(("target:", "no notebook"))]
            row.failures.append(f"notebook {number}: " + ("; ".join(said) or pip_error(done.stdout))[:300])
        row.notebooks[number] = status
        print(f"  {row.name}: notebook {number} {status}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="ENV",
                        help="run only these environments: 3.11, 3.12, 3.13 or latest (repeatable)")
    parser.add_argument("--refresh", action="store_true", help="reinstall the environments even if current")
    parser.add_argument("--install-only", action="store_true", help="make the environments, run nothing")
    parser.add_argument("--out", default=str(OUT), help="where the environments and COMPAT.md go")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(args.only) or {*PYTHONS, "latest"}
    requirements_text = (ROOT / "requirements.txt").read_text()
    pinned, newest = requirement_lines(requirements_text), unpinned(requirements_text)

    plan, skipped = [], []  # (name, minor, requirements label, requirement lines)
    found: dict[str, tuple[Path, str] | None] = {}
    for minor in PYTHONS:
        if minor in wanted or (minor == LATEST_ON and "latest" in wanted):
            found[minor] = find_python(minor)
        if minor in wanted:
            if found[minor] is None:
                skipped.append(minor)
                print(f"Python {minor}: not installed, skipped.", flush=True)
            else:
                plan.append((f"py{minor}", minor, "pinned", pinned))
    if "latest" in wanted:
        if found.get(LATEST_ON) is None:
            skipped.append(f"{LATEST_ON} (newest releases)")
            print(f"Python {LATEST_ON}: not installed, the newest releases are skipped.", flush=True)
        else:
            plan.append(("latest", LATEST_ON, "newest", newest))

    results_path = out / "results.json"
    rows = load_rows(results_path)
    for name, minor, label, requirements in plan:
        executable, full = found[minor]
        print(f"{name}: Python {full} ({executable}), {label} requirements", flush=True)
        started = time.monotonic()
        venv = out / name
        log = out / f"{name}.log"
        log.write_text(f"compat.py, {dt.datetime.now():%Y-%m-%d %H:%M}\n\n")
        row = Row(name=name, python=full, requirements=label, date=f"{dt.datetime.now():%Y-%m-%d %H:%M}")
        row.error = install(venv, executable, requirements, args.refresh, log)
        if row.error:
            print(f"  {name}: install failed: {row.error}", flush=True)
        elif args.install_only:
            continue
        else:
            run_env(row, venv, log)
        row.minutes = round((time.monotonic() - started) / 60, 1)
        rows[name] = row
        results_path.write_text(json.dumps({k: asdict(v) for k, v in rows.items()}, indent=2))
    if args.install_only:
        return 0

    order = [f"py{m}" for m in PYTHONS] + ["latest"]
    shown = [rows[name] for name in order if name in rows]
    dates = sorted(row.date[:10] for row in shown if row.date)
    date = (dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}") if dates else f"{dt.date.today()}"
    text = table(shown, skipped, date, pins(requirements_text))
    (out / "COMPAT.md").write_text("# cvlib course: Python versions and newest releases\n\n" + text)
    print()
    print(text, end="")
    print(f"\nwritten: {_show(out / 'COMPAT.md')}; logs: {_show(out)}/*.log")
    # The pinned set is the supported one: its failures fail the command; the newest releases' are reported.
    return 1 if any(failed(row) for row in shown if row.requirements == "pinned") else 0


if __name__ == "__main__":
    sys.exit(main())
