"""Execute a notebook headless with nbclient, under a per-cell and a whole-notebook wall limit.

The one way the course runs notebooks: ``make run`` (``run_notebooks.py``) and ``make grade``
(``grade.py``) both call ``execute``. Two things here are not nbclient's defaults:

- **A kernel client that cannot miss a reply.** nbclient waits for a cell's ``execute_reply``
  with one ``poll(timeout)`` on an asyncio ZeroMQ socket. That wait hears of a message through
  the socket's edge-triggered file descriptor; when the edge is consumed elsewhere (libzmq
  documents that a socket can become readable without its descriptor signalling), the reply
  sits, unread, in the socket while the kernel idles, until the poll's timeout fires and pyzmq's
  final ``poll(0)`` finds it. That is why a run could stall for exactly its cell time limit (900 s
  in the tests, up to an hour in ``make run``) and then go on and pass. ``SlicedChannel``
  waits in slices of at most ``POLL_SLICE`` seconds, so each slice ends with that real poll and a
  lost wake-up costs at most one slice.
- **A wall limit for the whole notebook**, beside nbclient's per-cell ``timeout``, and a result
  that names the cell that was running when a run failed or timed out.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import Type, default

POLL_SLICE = 1.0  # seconds: the longest a message can sit unnoticed in a kernel socket

OK, FAILED, TIMED_OUT = "ok", "FAILED", "timed out"


class SlicedChannel(AsyncZMQSocketChannel):
    """An asyncio ZeroMQ channel whose ``get_msg`` waits in slices of ``POLL_SLICE`` seconds."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE if deadline is None else min(POLL_SLICE, max(0.0, deadline - time.monotonic()))
            try:
                return await super().get_msg(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedKernelClient(AsyncKernelClient):
    """The asyncio kernel client with sliced waits on the shell and IOPub channels."""

    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    """A kernel manager whose clients are ``SlicedKernelClient``s."""

    @default("client_factory")
    def _client_factory_default(self) -> type:
        return SlicedKernelClient


@dataclass
class Result:
    """How a notebook run ended: ``status`` (ok / FAILED / timed out), its wall time, and what went wrong."""

    status: str
    seconds: float
    detail: str = ""
    cell: int | None = None  # index of the cell that failed or was running when the limit hit
    cell_seconds: dict[int, float] = field(default_factory=dict)  # wall time of every cell that finished

    def slowest(self, nb, count: int = 3) -> list[dict]:
        """The ``count`` slowest cells of ``nb``'s run: index, seconds and first line of each."""
        ranked = sorted(self.cell_seconds.items(), key=lambda item: -item[1])[:count]
        return [{"cell": i, "seconds": round(t, 1), "first_line": _first_line(nb.cells[i])} for i, t in ranked]


def _first_line(cell) -> str:
    lines = [line for line in cell.source.strip().splitlines() if line.strip()]
    return lines[0][:80] if lines else "empty"


def first_error(nb) -> tuple[int, str]:
    """Index and ``ename: evalue`` of the first cell whose output is an error, or (-1, "unknown error")."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return index, f"{output.get('ename')}: {output.get('evalue')}".strip()[:300]
    return -1, "unknown error"


def execute(nb, cwd: str | Path, cell_timeout: float, timeout: float, env: dict | None = None,
            allow_errors: bool = False) -> Result:
    """Run the code cells of ``nb`` in place in a fresh kernel started in ``cwd``; never raises for a bad run.

    ``cell_timeout`` bounds each cell and ``timeout`` the whole notebook, in seconds; the kernel is
    shut down however the run ends. ``env`` is the kernel's environment (default: this process's).
    With ``allow_errors`` the run goes on past failing cells (as nbgrader's grading does) and ends
    ``ok``; without, the first failing cell ends it ``FAILED``.
    """
    if cell_timeout <= 0 or timeout <= 0:
        raise ValueError(f"cell_timeout, timeout: expected positive seconds, got {cell_timeout}, {timeout}")
    running = {"cell": None, "since": 0.0}
    cell_seconds: dict[int, float] = {}

    def on_cell_start(cell, cell_index, **_):
        running.update(cell=cell_index, since=time.monotonic())

    def on_cell_done(cell, cell_index, **_):
        # nbclient's on_cell_complete fires once the request is sent; these two, once the kernel replied
        cell_seconds[cell_index] = time.monotonic() - running["since"]

    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name="python3",
        kernel_manager_class=SlicedKernelManager,
        allow_errors=allow_errors,
        interrupt_on_timeout=False,  # a cell over its limit ends the run
        record_timing=False,
        on_cell_start=on_cell_start,
        on_cell_executed=on_cell_done,
        on_cell_error=on_cell_done,
    )

    async def run():
        await asyncio.wait_for(
            client.async_execute(cwd=str(cwd), env=dict(os.environ if env is None else env)), timeout
        )

    def where() -> str:
        if running["cell"] is None:
            return "before the first cell"
        return f"in cell {running['cell']} ({_first_line(nb.cells[running['cell']])})"

    start = time.monotonic()
    try:
        asyncio.run(run())
    except CellExecutionError:
        index, message = first_error(nb)
        return Result(FAILED, time.monotonic() - start, f"cell {index}: {message}", index, cell_seconds)
    except Exception as err:  # any failure of one notebook is reported, never fatal to the caller
        seconds = time.monotonic() - start
        if isinstance(err, CellTimeoutError):
            return Result(TIMED_OUT, seconds, f"a cell ran longer than {cell_timeout:g} s, {where()}", running["cell"],
                          cell_seconds)
        # Past the deadline, whatever surfaced from the cancelled run (TimeoutError, or the kernel
        # seen dead while it was being shut down) is the time limit at work.
        if isinstance(err, TimeoutError) or seconds >= timeout:
            return Result(TIMED_OUT, seconds, f"the notebook ran longer than {timeout:g} s, {where()}",
                          running["cell"], cell_seconds)
        message = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        if isinstance(err, DeadKernelError):
            return Result(FAILED, seconds, f"the kernel died {where()}: {message}", running["cell"], cell_seconds)
        return Result(FAILED, seconds, f"{type(err).__name__} {where()}: {message}", running["cell"], cell_seconds)
    return Result(OK, time.monotonic() - start, cell_seconds=cell_seconds)
