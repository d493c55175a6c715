"""Loaded by every Python process that ``tools/offline.py`` starts (it puts this folder on PYTHONPATH).

pytest-socket's guard: a socket may connect to the loopback address and Unix sockets only (Jupyter's
kernels talk to their client over loopback), anything else raises ``SocketBlockedError``, so code that
reaches for the network fails loudly in Python even where no network namespace can be made.
"""

import os

if os.environ.get("CVLIB_OFFLINE") == "1":
    from pytest_socket import socket_allow_hosts

    socket_allow_hosts(["127.0.0.1", "::1"], allow_unix_socket=True)
