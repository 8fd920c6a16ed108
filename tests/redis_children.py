"""What the child processes of tests/test_redis.py run (a module of its own, importable by
name, so forkserver children import only this and mpsc). Handles arrive pickled (they travel),
and every wait is bounded by ``WAIT``."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import mpsc
import mpsc.redis

WAIT = 20.0


def produce(tx: mpsc.redis.Sender[Any], tag: int, count: int) -> None:
    """Send ``(tag, i)`` for i in range(count), then close."""
    with tx:
        for i in range(count):
            tx.send_timeout((tag, i), WAIT)


def consume(rx: mpsc.redis.Receiver[Any], out: mpsc.redis.Sender[Any]) -> None:
    """Receive until the channel is disconnected, then send the list of what came."""
    got = []
    with rx, out:
        while True:
            try:
                got.append(rx.recv_timeout(WAIT))
            except mpsc.RecvError:
                break
        out.send(got)


def send_then_hang(tx: mpsc.redis.Sender[Any], ready: mpsc.redis.Sender[Any], count: int) -> None:
    """Send ``count`` values, say so, then wait to be killed (at most WAIT seconds)."""
    for i in range(count):
        tx.send(i)
    ready.send(os.getpid())
    time.sleep(WAIT)


def take_one_then_hang(rx: mpsc.redis.Receiver[Any], ready: mpsc.redis.Sender[Any]) -> None:
    """Receive one value (fetching a batch), report it, then wait to be killed."""
    ready.send(rx.recv_timeout(WAIT))
    time.sleep(WAIT)


def hold_then_hang(handle: Any, ready: mpsc.redis.Sender[Any]) -> None:
    """Hold a handle, say so, then wait to be killed."""
    ready.send(repr(handle))
    time.sleep(WAIT)


def take_some_stop_then_try(
    rx: mpsc.redis.Receiver[Any], ready: mpsc.redis.Sender[Any], go: mpsc.redis.Receiver[Any], count: int
) -> None:
    """Receive ``count`` values in a row (its fetches grow: it then holds a batch), stop itself
    at once (SIGSTOP: a process cut off before its idle receiver gave the batch back), and once
    continued report ``(values, how many it held)``; once told to go on, try to receive again and
    report ``("lost",)`` or ``("got", value)``."""
    got = [rx.recv_timeout(WAIT) for _ in range(count)]
    held = len(rx._buf)
    os.kill(os.getpid(), signal.SIGSTOP)
    ready.send((got, held))
    go.recv_timeout(WAIT)
    try:
        ready.send(("got", rx.recv_timeout(1)))
    except mpsc.redis.LeaseExpiredError:
        ready.send(("lost",))


def recv_one(rx: mpsc.redis.Receiver[Any], out: mpsc.redis.Sender[Any]) -> None:
    """Receive one value and send it on ``out``."""
    with rx, out:
        out.send(rx.recv_timeout(WAIT))


def send_one(tx: mpsc.redis.Sender[Any], value: Any) -> None:
    """Send one value (on a rendezvous channel: wait until a receiver takes it)."""
    with tx:
        tx.send_timeout(value, WAIT)


def recv_parked_before_return(rx: mpsc.redis.Receiver[Any], ready: mpsc.redis.Sender[Any]) -> None:
    """Receive one value, but stop at the receive's last step before it returns (the value
    taken, the caller not holding it yet), as a process descheduled there would; report the
    receiver's lease id and wait to be killed. (Review 2, finding 05.)"""
    from mpsc.redis import _handles

    leave = _handles.Receiver._leave

    def parked(self: Any, take: Any) -> None:
        if take.taken:
            ready.send(self._lease.id)
            time.sleep(WAIT)
        leave(self, take)

    _handles.Receiver._leave = parked  # type: ignore[method-assign]
    rx.recv_timeout(WAIT)
