"""Run a command with the network cut off: ``python tools/offline.py CMD [ARGS...]``.

Two layers. On Linux, ``unshare --net --map-root-user`` gives the command a network namespace of its
own that holds only the loopback interface (brought up here, for Jupyter's kernels): no packet can
leave, whatever library sends it. In every Python process below it, ``offline_site/sitecustomize.py``
installs pytest-socket's guard, which lets sockets reach loopback and Unix sockets only. Where no
namespace can be made (not Linux, or user namespaces disabled) the Python guard still holds, and a
line on stderr says the namespace is missing. Used by tests/test_offline.py.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSIDE = "CVLIB_OFFLINE_NAMESPACE"


def loopback_up() -> None:
    """Bring ``lo`` up in a fresh network namespace (where it starts down), as ``ip link set lo up`` does."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, request))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def namespace_available() -> bool:
    """True when ``unshare`` can give this user a network namespace."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return False
    probe = subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python tools/offline.py CMD [ARGS...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if env.get(INSIDE) == "1":
        loopback_up()
    elif namespace_available():
        env[INSIDE] = "1"
        unshare = shutil.which("unshare")
        os.execvpe(unshare, [unshare, "--net", "--map-root-user", sys.executable, __file__, *argv], env)
    else:
        print("offline.py: no network namespace here; only Python's sockets are guarded", file=sys.stderr)
    env["CVLIB_OFFLINE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE / "offline_site"), env.get("PYTHONPATH")]))
    os.execvpe(argv[0], argv, env)
    return 1  # not reached: exec replaces this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
