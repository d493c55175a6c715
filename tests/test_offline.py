"""The course runs offline: the unit tests and a notebook pass with the network cut off.

``tools/offline.py`` runs a command in a network namespace with only loopback (Linux ``unshare``),
with pytest-socket's guard in every Python process; the unit tests also run under pytest-socket's
``--disable-socket``. The first test proves the sandbox really blocks the network, so the other
two cannot pass by accident.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import offline

ROOT = Path(__file__).resolve().parent.parent
# Tests that start Jupyter kernels need loopback TCP sockets in the pytest process itself, which
# --disable-socket forbids; what they run is checked offline by the notebook test below.
# test_readme.py checks the README's text, not code, and is left to the main run.
NOT_HERE = {"test_assignments.py", "test_floors.py", "test_grade.py", "test_run_notebooks.py", "test_offline.py",
            "test_reproducible.py", "test_readme.py"}
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


def test_the_sandbox_blocks_the_network():
    guarded = _run([*OFFLINE, sys.executable, "-c", PROBE])
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert guarded.stdout.startswith("SocketConnectBlockedError"), guarded.stdout
    if offline.namespace_available():  # below the Python guard (python -S skips it), the namespace holds
        bare = _run([*OFFLINE, sys.executable, "-S", "-c", PROBE])
        assert bare.stdout.split() in (["OSError", str(errno.ENETUNREACH)], ["TimeoutError", "None"]), bare.stdout
        assert "CONNECTED" not in bare.stdout
    else:
        print("no network namespace on this machine: only the Python-level guard was checked", file=sys.stderr)


@pytest.mark.slow
def test_unit_tests_pass_offline():
    tests = sorted(p.name for p in (ROOT / "tests").glob("test_*.py") if p.name not in NOT_HERE)
    done = _run([*OFFLINE, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--disable-socket",
                 "--allow-unix-socket", *[f"tests/{name}" for name in tests]], timeout=3600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]


@pytest.mark.slow
def test_a_notebook_runs_offline(tmp_path):
    done = _run([*OFFLINE, sys.executable, "tools/run_notebooks.py", "--only", "01", "--fast", "--timeout", "900",
                 "--out", str(tmp_path)])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (tmp_path / "REPORT.md").read_text()
    assert "| 01_iou_and_map | ok |" in report, report
