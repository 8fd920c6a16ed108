"""What the child processes of tests/test_process.py run.

A module of its own, importable by name, so that spawn and forkserver children import only this
(and mpsc), not pytest and the test module. Every wait here is bounded: a child that is not
told to go on within ``WAIT`` seconds ends, so no test can leave a child running for ever.
"""

from __future__ import annotations

import os
import time
from typing import Any

import mpsc
import mpsc.process

WAIT = 20.0


def produce(tx: mpsc.process.Sender[Any], tag: int, count: int) -> None:
    """Send ``(tag, i)`` for i in range(count), then close the sender."""
    with tx:
        for i in range(count):
            tx.send_timeout((tag, i), WAIT)


def produce_forever(tx: mpsc.process.Sender[Any], ready: mpsc.process.Sender[Any]) -> None:
    """Say ready, then send an increasing counter until killed (or the receiver goes)."""
    ready.send(os.getpid())
    ready.close()
    i = 0
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            tx.send_timeout(i, WAIT)
            i += 1
    except mpsc.SendError:
        pass


def produce_large_forever(tx: mpsc.process.Sender[Any], ready: mpsc.process.Sender[Any], size: int) -> None:
    """Say ready, then send ``size``-byte payloads (each one byte value repeated) until killed."""
    ready.send(os.getpid())
    ready.close()
    deadline = time.monotonic() + 60
    i = 0
    try:
        while time.monotonic() < deadline:
            tx.send_timeout(bytes([i % 256]) * size, WAIT)
            i += 1
    except mpsc.SendError:
        pass


def produce_twice_given(tx_a: mpsc.process.Sender[Any], tx_b: mpsc.process.Sender[Any], count: int) -> None:
    """Given two handles of the same side (one owner in this process): send on both, close both."""
    assert tx_a.same_channel(tx_b)
    with tx_a, tx_b:
        for i in range(count):
            tx_a.send_timeout(("a", i), WAIT)
            tx_b.send_timeout(("b", i), WAIT)


def produce_from_threads(tx: mpsc.process.Sender[Any], tag: int, threads: int, count: int) -> None:
    """Send ``(tag, thread, i)`` from several threads at once, all on the one handle ``tx``."""
    import threading

    def run(thread: int) -> None:
        for i in range(count):
            tx.send_timeout((tag, thread, i), WAIT)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(WAIT * 3)
    tx.close()


def send_large(tx: mpsc.process.Sender[Any], size: int) -> None:
    """Send one ``size``-byte payload of zeros, then close the sender."""
    with tx:
        tx.send_timeout(bytes(size), WAIT)


def produce_with_timeouts(
    tx: mpsc.process.Sender[Any], tag: int, count: int, timeout: float, report: mpsc.process.Sender[Any]
) -> None:
    """Try to send ``(tag, i)`` for each i, each send with ``timeout``; report which were sent."""
    sent = []
    with tx:
        for i in range(count):
            try:
                tx.send_timeout((tag, i), timeout)
            except mpsc.Timeout as timed_out:
                assert timed_out.value == (tag, i)
            else:
                sent.append(i)
    with report:
        report.send_timeout(("sent", tag, sent), WAIT)


def consume_with_timeouts(
    rx: mpsc.process.Receiver[Any], timeout: float, report: mpsc.process.Sender[Any]
) -> None:
    """Receive with ``timeout`` on each call until every sender is gone; report what came."""
    got = []
    deadline = time.monotonic() + 60
    with rx:
        while time.monotonic() < deadline:
            try:
                got.append(rx.recv_timeout(timeout))
            except mpsc.Timeout:
                continue
            except mpsc.RecvError:
                break
    with report:
        report.send_timeout(("got", got), WAIT)


def forward(
    rx: mpsc.process.Receiver[Any], out: mpsc.process.Sender[Any], ready: mpsc.process.Sender[Any]
) -> None:
    """Say ready, then forward ``(pid, message)`` for each message until every sender is gone."""
    me = os.getpid()
    ready.send(me)
    ready.close()
    with rx, out:
        while True:
            try:
                out.send_timeout((me, rx.recv_timeout(WAIT)), WAIT)
            except mpsc.RecvError:
                return


def consume(rx: mpsc.process.Receiver[Any], results: mpsc.process.Sender[Any]) -> None:
    """Receive until every sender is gone, then report everything received as one list."""
    got = []
    with rx:
        while True:
            try:
                got.append(rx.recv_timeout(WAIT))
            except mpsc.RecvError:
                break
    with results:
        results.send_timeout(got, WAIT)


def hold_receiver(rx: mpsc.process.Receiver[Any], ready: mpsc.process.Sender[Any], wait: Any) -> None:
    """Hold ``rx`` without receiving, after saying ready, until told to stop (or killed)."""
    ready.send(os.getpid())
    ready.close()
    try:
        wait.recv_timeout(WAIT)
    except (mpsc.Timeout, mpsc.RecvError):
        pass


def echo(rx: mpsc.process.Receiver[Any], tx: mpsc.process.Sender[Any]) -> None:
    """Send back ``(pid, value)`` for every value received, until every sender is gone."""
    with rx, tx:
        while True:
            try:
                value = rx.recv_timeout(WAIT)
            except mpsc.RecvError:
                return
            tx.send_timeout((os.getpid(), value), WAIT)


def release_then_echo(rx: mpsc.process.Receiver[Any], tx: mpsc.process.Sender[Any]) -> None:
    """``echo``, after closing every other handle this process holds (what a fork child
    inherited; nothing in a spawn or forkserver child)."""
    mpsc.process.release_inherited(rx, tx)
    echo(rx, tx)


def use_sent_handle(carrier: mpsc.process.Receiver[Any]) -> None:
    """Receive a Sender inside a message, send on it, and close it."""
    with carrier:
        tx = carrier.recv_timeout(WAIT)
    with tx:
        tx.send_timeout(("from child", os.getpid()), WAIT)


def idle(wait: Any, release: bool) -> None:
    """A forked child not given the channel: optionally release what it inherited, say so on
    ``wait``'s reply sender, then wait to be told to stop."""
    stop, reply = wait
    if release:
        keep = (stop, reply)
        mpsc.process.release_inherited(*keep)
    reply.send("idle")
    try:
        stop.recv_timeout(WAIT)
    except (mpsc.Timeout, mpsc.RecvError):
        pass


def pool_init(tx: mpsc.process.Sender[Any]) -> None:
    """ProcessPoolExecutor initializer: keep the handle the worker was started with."""
    global _pool_tx
    _pool_tx = tx


_pool_tx: Any = None


def pool_task(x: int) -> int:
    """ProcessPoolExecutor task: send through the initializer's handle."""
    _pool_tx.send_timeout(x * x, WAIT)
    return os.getpid()


def pool_task_with_handle(tx: Any) -> None:
    """ProcessPoolExecutor task given a handle as an argument (refused at pickling)."""
    tx.send(1)


def drain_with_default_sigpipe(rx: mpsc.process.Receiver[Any], results: mpsc.process.Sender[Any]) -> None:
    """As ``consume``, with SIGPIPE at its default action (killing), as command-line tools set it."""
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    consume(rx, results)


def refuse_ring_handle(carrier: mpsc.process.Receiver[Any], results: mpsc.process.Sender[Any]) -> None:
    """In a process started with ``MPSC_PURE=1``: receive a handle of a ring channel, and send
    back what its arrival raised (or that it arrived)."""
    from mpsc.process import _rings

    with carrier, results:
        try:
            handle = carrier.recv_timeout(WAIT)
        except Exception as exc:  # (what is looked at: the error's type and text)
            results.send_timeout((_rings.RING is None, type(exc).__name__, str(exc)), WAIT)
        else:
            handle.close()
            results.send_timeout((_rings.RING is None, "arrived", ""), WAIT)


def send_after_ready(tx: mpsc.process.Sender[Any], ready: mpsc.process.Sender[Any], value: Any) -> None:
    """Say ready, then send ``value`` (and wait, if the channel is full, until killed)."""
    ready.send(os.getpid())
    ready.close()
    tx.send_timeout(value, 60)
