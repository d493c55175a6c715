"""How the course runs notebooks (tools/execution.py): a reply whose wake-up is lost is still read promptly.

nbclient waits for a cell's reply with one ``poll(timeout)`` on an asyncio ZeroMQ socket, which learns
of a message through the socket's edge-triggered file descriptor. When something else consumes that
edge (here: reading the socket's events directly, as a send on the same socket also does), the
message sits unread until the poll's timeout: the stall that made notebook runs wait for their whole
cell time limit and then go on. ``SlicedChannel`` polls in slices of ``POLL_SLICE`` seconds.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
import zmq
import zmq.asyncio
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.session import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import execution

TIMEOUT = 5.0


async def reply_with_lost_wakeup(channel_class) -> tuple[str, float]:
    """(message type, seconds to read it) for a reply that arrives while its wake-up is consumed elsewhere."""
    ctx = zmq.asyncio.Context()
    router, dealer = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    try:
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer.connect(f"tcp://127.0.0.1:{port}")
        session = Session(key=b"test")
        await dealer.send(b"hello")
        ident, _ = await router.recv_multipart()
        channel = channel_class(dealer, session)
        waiting = asyncio.ensure_future(channel.get_msg(timeout=TIMEOUT))
        await asyncio.sleep(0.2)  # the channel is now polling
        start = time.monotonic()
        session.send(zmq.Socket.shadow(router.underlying), "execute_reply", {"status": "ok"}, ident=ident)
        time.sleep(0.2)  # the reply reaches the client's queue while the event loop is not running...
        zmq.Socket.shadow(dealer.underlying).get(zmq.EVENTS)  # ...and its wake-up is consumed elsewhere
        msg = await waiting
        return msg["msg_type"], time.monotonic() - start
    finally:
        dealer.close(linger=0)
        router.close(linger=0)
        ctx.term()


def test_sliced_channel_reads_a_reply_whose_wakeup_was_lost():
    kind, seconds = asyncio.run(reply_with_lost_wakeup(execution.SlicedChannel))
    assert kind == "execute_reply" and seconds < execution.POLL_SLICE + 0.5, f"read after {seconds:.1f} s"


def test_the_stock_channel_waits_for_its_whole_timeout():
    # Why the sliced channel exists; if this starts failing, jupyter_client or pyzmq fixed the lost wake-up.
    kind, seconds = asyncio.run(reply_with_lost_wakeup(AsyncZMQSocketChannel))
    assert kind == "execute_reply" and seconds > TIMEOUT - 0.5, f"read after {seconds:.1f} s"


def test_sliced_channel_still_times_out_when_nothing_comes():
    async def wait_for_nothing():
        ctx = zmq.asyncio.Context()
        dealer = ctx.socket(zmq.DEALER)
        try:
            dealer.connect("tcp://127.0.0.1:9")  # nothing ever answers
            start = time.monotonic()
            with pytest.raises(Exception) as raised:
                await execution.SlicedChannel(dealer, Session(key=b"test")).get_msg(timeout=2.5)
            return raised.typename, time.monotonic() - start
        finally:
            dealer.close(linger=0)
            ctx.term()

    kind, seconds = asyncio.run(wait_for_nothing())
    assert kind == "Empty" and 2.4 < seconds < 3.5


def test_kernel_manager_hands_out_sliced_clients():
    client = execution.SlicedKernelManager(kernel_name="python3").client()
    assert isinstance(client, execution.SlicedKernelClient)
    assert client.shell_channel_class is execution.SlicedChannel
    assert client.iopub_channel_class is execution.SlicedChannel


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="cell_timeout, timeout"):
        execution.execute(None, ".", 0, 10)
