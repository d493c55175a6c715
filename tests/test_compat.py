"""``make test-compat`` (tools/compat.py): its logic, with fake interpreters and a fake pip; nothing is installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import compat

ROOT = Path(__file__).resolve().parent.parent


def _fake_python(path: Path, prints: str = "", code: int = 0) -> Path:
    """An executable that answers compat's version question as a real interpreter would (or fails as a shim)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {prints}\nexit {code}\n")
    path.chmod(0o755)
    return path


def test_finds_pyenv_versions_newest_patch_first_then_path(tmp_path):
    pyenv = tmp_path / "pyenv"
    _fake_python(pyenv / "versions" / "3.12.0" / "bin" / "python3.12", "3.12.0")
    newest = _fake_python(pyenv / "versions" / "3.12.10" / "bin" / "python3.12", "3.12.10")
    _fake_python(pyenv / "versions" / "3.12.11-dev" / "bin" / "python3.12", "3.12.11")  # not a release: ignored
    on_path = _fake_python(tmp_path / "bin" / "python3.13", "3.13.0")
    path = str(tmp_path / "bin")
    assert compat.find_python("3.12", path=path, pyenv_root=str(pyenv)) == (newest, "3.12.10")
    assert compat.find_python("3.13", path=path, pyenv_root=str(pyenv)) == (on_path, "3.13.0")


def test_a_missing_version_or_a_shim_without_it_is_not_found(tmp_path):
    # a pyenv shim for a version that is not installed exits non-zero; a wrong version is not taken either
    _fake_python(tmp_path / "shims" / "python3.11", "", code=127)
    _fake_python(tmp_path / "bin" / "python3.11", "3.10.13")
    path = f"{tmp_path / 'shims'}:{tmp_path / 'bin'}:{tmp_path / 'nowhere'}"
    assert compat.find_python("3.11", path=path, pyenv_root=str(tmp_path / "no-pyenv")) is None
    _fake_python(tmp_path / "later" / "python3.11", "3.11.7")
    found = compat.find_python("3.11", path=f"{path}:{tmp_path / 'later'}", pyenv_root=str(tmp_path / "no-pyenv"))
    assert found == (tmp_path / "later" / "python3.11", "3.11.7")


def test_a_missing_python_is_skipped_with_a_line_not_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compat, "find_python", lambda minor: None)
    assert compat.main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for minor in ("3.11", "3.12", "3.13"):
        assert f"Python {minor}: not installed, skipped." in printed
    assert "Python 3.12: not installed, skipped." in (tmp_path / "COMPAT.md").read_text()
    assert not [p for p in tmp_path.iterdir() if p.is_dir()], "no environment is made for a missing Python"


def test_a_failed_install_is_a_row_and_the_other_versions_still_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(compat, "find_python", lambda minor: (Path(f"/fake/python{minor}"), f"{minor}.1"))
    installed = []

    def install(venv, base, requirements, refresh, log):
        installed.append((venv.name, requirements))
        return "ERROR: No matching distribution found for tensorflow==2.21.0" if venv.name == "py3.13" else ""

    def run_env(row, venv, log):
        row.versions = {"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"}
        row.tests = {"passed": 10, "failed": 0}
        row.notebooks = {number: "ok" for number in compat.NOTEBOOKS}

    monkeypatch.setattr(compat, "install", install)
    monkeypatch.setattr(compat, "run_env", run_env)
    assert compat.main(["--out", str(tmp_path)]) == 1, "a pinned environment that fails fails the command"
    assert [name for name, _ in installed] == ["py3.11", "py3.12", "py3.13", "latest"]
    latest = dict(installed)["latest"]
    assert "tensorflow" in latest and not any("==" in line for line in latest)
    text = (tmp_path / "COMPAT.md").read_text()
    assert "| 3.13.1 | pinned | install failed: ERROR: No matching distribution found for tensorflow==2.21.0 |" in text
    assert "| 3.12.1 | pinned | 2.21.0 | 3.15.1 | 2.4.6 | 10 / 0 | 3 / 0 |" in text
    assert "| 3.11.1 | newest | 2.21.0 |" in text
    # a later run of one environment replaces its row and keeps the others
    monkeypatch.setattr(compat, "install", lambda *args: "")
    assert compat.main(["--out", str(tmp_path), "--only", "3.13"]) == 0
    text = (tmp_path / "COMPAT.md").read_text()
    assert "install failed" not in text and text.count("| 10 / 0 | 3 / 0 |") == 4


def test_table_format():
    ok = compat.Row(name="py3.12", python="3.12.1", requirements="pinned", date="2026-12-04 04:30",
                    versions={"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6"},
                    tests={"passed": 812, "failed": 2, "errors": 1, "skipped": 3},
                    notebooks={"01": "ok", "13": "ok", "08": "FAILED"}, minutes=12.34,
                    failures=["FAILED tests/test_x.py::test_y - ValueError: boom"])
    broken = compat.Row(name="py3.13", python="3.13.0", requirements="pinned", minutes=0.5,
                        error="ERROR: Could not find a version | that satisfies")
    newest = compat.Row(name="latest", python="3.11.7", requirements="newest", tests={"passed": 1},
                        versions={"tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.5.0", "pytest": "9.2.0"})
    pinned = {"tensorflow": "2.21.0", "numpy": "2.4.6", "pytest": "9.0.3", "keras": "3.15.1"}
    text = compat.table([ok, broken, newest], ["3.14"], "2026-12-04", pinned)
    assert "Newest releases other than the pins (Python 3.11.7): numpy 2.5.0, pytest 9.2.0." in text
    assert "\n\n\n" not in text
    lines = text.splitlines()
    header = lines.index(compat.HEADER)
    assert lines[header + 1] == "|---|---|---|---|---|---|---|---|"
    assert lines[header + 2] == "| 3.12.1 | pinned | 2.21.0 | 3.15.1 | 2.4.6 | 812 / 3 | 2 / 1 | 12.3 |"
    assert lines[header + 3] == ("| 3.13.0 | pinned | install failed: ERROR: Could not find a version / that "
                                 "satisfies | - | - | - | - | 0.5 |")
    for line in lines[header:header + 5]:
        assert line.count("|") == compat.HEADER.count("|"), line
    assert "Python 3.14: not installed, skipped." in lines
    assert "- `FAILED tests/test_x.py::test_y - ValueError: boom`" in lines
    assert "2026-12-04" in lines[0]


@pytest.mark.parametrize(("line", "expected"), [
    ("==== 812 passed, 3 skipped, 2 warnings in 301.52s (0:05:01) ====",
     {"passed": 812, "skipped": 3, "warnings": 2}),
    ("= 2 failed, 810 passed, 1 error, 4 deselected in 12.00s =",
     {"failed": 2, "passed": 810, "errors": 1, "deselected": 4}),
    ("3 errors in 1.2s", {"errors": 3}),
    ("1 passed in 0.01s", {"passed": 1}),
    ("no tests ran in 0.01s", {}),
])
def test_parses_pytest_summary_line(line, expected):
    output = f"tests/test_a.py ....F\nFAILED tests/test_a.py::test_b - assert 1 == 2\n{line}\n"
    assert compat.parse_pytest_summary(output) == expected


def test_no_summary_line_and_failed_test_lines():
    assert compat.parse_pytest_summary("Traceback (most recent call last):\nImportError: no module\n") is None
    output = "x\nFAILED tests/a.py::t - ValueError: x\nERROR tests/b.py - ImportError: y\n= 1 failed in 1s =\n"
    assert compat.failed_tests(output) == ["FAILED tests/a.py::t - ValueError: x", "ERROR tests/b.py - ImportError: y"]


def test_reports_pips_last_error_line():
    output = ("Collecting tensorflow==2.21.0\n"
              "ERROR: Could not find a version that satisfies the requirement tensorflow==2.21.0 (from versions: )\n"
              "ERROR: No matching distribution found for tensorflow==2.21.0\n\n"
              "[notice] A new release of pip is available\n")
    assert compat.pip_error(output) == "ERROR: No matching distribution found for tensorflow==2.21.0"
    assert compat.pip_error("Building wheel\n  error: subprocess-exited-with-error\n") == (
        "error: subprocess-exited-with-error")
    assert compat.pip_error("") == "pip failed without a message"


def test_reads_the_pins():
    assert compat.pins("a==1.0\nB[x]==2 ; python_version < '3.13'\nc>=3\n# d==4\n") == {"a": "1.0", "b": "2"}
    assert compat.pins((ROOT / "requirements.txt").read_text())["tensorflow"]


def test_requirements_without_pins():
    text = (ROOT / "requirements.txt").read_text()
    names = compat.unpinned(text)
    pinned = compat.requirement_lines(text)
    assert len(names) == len(pinned) and names, "one name per requirement"
    assert {"tensorflow", "keras", "numpy", "pytest"} <= set(names)
    assert not [n for n in names if any(c in n.split(";")[0] for c in "=<>~! ")], names
    example = ("# a comment\n\npkg-a==1.2  # why\nPkg_B[extra,two]>=3 ; python_version < '3.13'\n"
               "-r other.txt\nc.d~=1.0\n")
    assert compat.unpinned(example) == ["pkg-a", "Pkg_B[extra,two]; python_version < '3.13'", "c.d"]


def test_an_environment_is_reused_while_its_requirements_are_unchanged(tmp_path, monkeypatch):
    calls = []

    def fake_run(command, log, timeout=None, env=None):
        calls.append(command)
        if command[1:3] == ["-m", "venv"]:
            (Path(command[3]) / "bin").mkdir(parents=True)
            (Path(command[3]) / "bin" / "python").write_text("")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(compat, "_run", fake_run)
    venv, log, base = tmp_path / "py3.12", tmp_path / "log", Path("/fake/python3.12")
    assert compat.install(venv, base, ["numpy==2.4.6"], False, log) == ""
    assert len(calls) == 4, "venv, pip upgrade, requirements, cvlib"
    assert calls[2][-2:] == ["-r", str(venv / "requirements.txt")]
    assert calls[3][-3:] == ["--no-deps", "-e", str(compat.ROOT)]
    assert compat.install(venv, base, ["numpy==2.4.6"], False, log) == ""
    assert len(calls) == 4, "an unchanged environment is not installed again"
    assert compat.install(venv, base, ["numpy==2.4.7"], False, log) == ""
    assert len(calls) == 8, "changed requirements make it anew"
    assert compat.install(venv, base, ["numpy==2.4.7"], True, log) == ""
    assert len(calls) == 12, "--refresh makes it anew"
    assert compat.install(venv, Path("/fake/other/python3.12"), ["numpy==2.4.7"], False, log) == ""
    assert len(calls) == 16, "another interpreter makes it anew"


def test_a_failed_pip_step_returns_its_error_and_leaves_no_stamp(tmp_path, monkeypatch):
    def fake_run(command, log, timeout=None, env=None):
        if command[1:3] == ["-m", "venv"]:
            (Path(command[3]) / "bin").mkdir(parents=True)
            (Path(command[3]) / "bin" / "python").write_text("")
            return subprocess.CompletedProcess(command, 0, "", "")
        failing = "-r" in command
        return subprocess.CompletedProcess(command, 1 if failing else 0,
                                           "ERROR: No matching distribution found for x==1\n" if failing else "", "")

    monkeypatch.setattr(compat, "_run", fake_run)
    venv = tmp_path / "py3.13"
    assert compat.install(venv, Path("/fake/python3.13"), ["x==1"], False, tmp_path / "log") == (
        "ERROR: No matching distribution found for x==1")
    assert not (venv / ".compat-stamp").exists()


def test_the_unit_test_run_leaves_out_the_notebook_tests():
    args = compat.pytest_args()
    assert "--ignore=tests/test_notebooks_run.py" in args and "--ignore=tests/test_floors.py" in args
    assert "--ignore=tests/jax_backend" in args and args[-1] == "tests"
    for path in compat.NOTEBOOK_TESTS:
        assert (f"--ignore={path}" in args) == (ROOT / path).exists()
    for number in compat.NOTEBOOKS:
        assert len(list((ROOT / "notebooks").glob(f"{number}_*.ipynb"))) == 1, number


def test_the_runs_are_fast_mode_offline_and_keep_hypothesis_apart():
    python = Path("/x/build/compat/py3.12/bin/python")
    env = compat.test_env(python)
    assert env["CVLIB_FAST"] == "1" and "VIRTUAL_ENV" not in env
    assert env["PATH"].startswith("/x/build/compat/py3.12/bin")
    assert env["HYPOTHESIS_STORAGE_DIRECTORY"] == "/x/build/compat/py3.12/.hypothesis"
    command = compat.sandboxed(python, "-m", "pytest")
    assert command[:3] == [str(python), str(ROOT / "tools" / "offline.py"), str(python)]
