"""The course runs offline: the whole test suite, notebooks included, runs with the network cut off.

``tools/offline.py`` runs a command in a network namespace with only loopback (Linux ``unshare``),
with pytest-socket's guard in every Python process; ``make test`` runs pytest inside it. The first
test proves the sandbox really blocks the network, so the second cannot pass by accident.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import offline

ROOT = Path(__file__).resolve().parent.parent
# Outside make test: tests that start Jupyter kernels need loopback TCP sockets in the pytest process
# itself, which --disable-socket forbids (notebook 01 stands for them); test_readme.py checks text.
NOT_HERE = {"test_assignments.py", "test_floors.py", "test_grade.py", "test_notebooks_run.py", "test_offline.py",
            "test_readme.py", "test_run_notebooks.py"}
OFFLINE = [sys.executable, str(ROOT / "tools" / "offline.py")]
ENV = {**os.environ, "CVLIB_FAST": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
ENV.pop("CVLIB_REPORT_DIR", None)
PROBE = """
import socket, sys
try:
    socket.create_connection(("151.101.0.223", 443), timeout=10)  # pypi.org's address: must never connect
except Exception as err:
    print(type(err).__name__, getattr(err, "errno", None))
else:
    print("CONNECTED")
"""


def _run(args, timeout=1800, **kwargs):
    return subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout, **kwargs)


def _probe_is_blocked(probe: subprocess.CompletedProcess, guarded: bool) -> None:
    """A probe printed how its connection failed: SocketConnectBlockedError from the Python guard, or
    the namespace's error (no route, or a time-out) below it."""
    assert probe.returncode == 0, probe.stderr[-2000:]
    if guarded:
        assert probe.stdout.startswith("SocketConnectBlockedError"), probe.stdout
    else:
        assert probe.stdout.split() in (["OSError", str(errno.ENETUNREACH)], ["TimeoutError", "None"]), probe.stdout


def test_the_sandbox_blocks_the_network():
    _probe_is_blocked(_run([*OFFLINE, sys.executable, "-c", PROBE]), guarded=True)
    if offline.namespace_available():  # below the Python guard (python -S skips it), the namespace holds
        _probe_is_blocked(_run([*OFFLINE, sys.executable, "-S", "-c", PROBE]), guarded=False)
    else:
        print("no network namespace on this machine: only the Python-level guard was checked", file=sys.stderr)


@pytest.mark.slow
def test_the_suite_runs_offline(tmp_path):
    """make test runs pytest inside the sandbox: then this process, and every kernel it starts, is offline.
    Run any other way, the unit tests and notebook 01 run again inside one."""
    if os.environ.get("CVLIB_OFFLINE") == "1":
        with pytest.raises(Exception) as raised:  # this very process: the guard is still up
            socket.create_connection(("151.101.0.223", 443), timeout=10)
        assert raised.typename == "SocketConnectBlockedError", raised.value
        _probe_is_blocked(_run([sys.executable, "-c", PROBE]), guarded=True)
        if os.environ.get(offline.INSIDE) == "1":
            _probe_is_blocked(_run([sys.executable, "-S", "-c", PROBE]), guarded=False)
        return
    tests = sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if p.name not in NOT_HERE)
    done = _run([*OFFLINE, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--disable-socket",
                 "--allow-unix-socket", *[f"tests/{name}" for name in tests]], timeout=3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]
    done = _run([*OFFLINE, sys.executable, "tools/run_notebooks.py", "--only", "01", "--fast", "--timeout", "900",
                 "--out", str(tmp_path)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| 01_iou_and_map | ok |" in (tmp_path / "REPORT.md").read_text()
