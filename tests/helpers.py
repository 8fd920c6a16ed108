"""Helpers for tests: bounded thread runs and small utilities. Every blocking wait is bounded."""

from __future__ import annotations

import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import repeat
from typing import Any

import mpsc

# Upper bound for any single blocking call in a test that is expected to complete: generous,
# because CI machines are slow and shared, but finite so that a bug fails instead of hanging.
WAIT = 10.0


class Worker:
    """A thread running ``fn(*args)`` that records its result or exception."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str | None = None) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self.thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def join(self, timeout: float = WAIT * 3) -> Any:
        """Wait for the thread (bounded); re-raise its exception; return its result."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"thread {self.thread.name} did not finish within {timeout}s")
        if self.error is not None:
            raise self.error
        return self.result


def run_all(*fns: Callable[[], Any], timeout: float = WAIT * 6) -> list[Any]:
    """Run each function in its own thread at once; join all (bounded) and return results."""
    start = threading.Barrier(len(fns))

    def gated(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            start.wait(WAIT)
            return fn()

        return run

    workers = [Worker(gated(fn)) for fn in fns]
    return [worker.join(timeout) for worker in workers]


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll ``predicate`` until true (for states no event signals, e.g. "a thread is parked")."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.0005)


def live(queue: Any) -> int:
    """How many entries of a wait queue belong to operations still waiting (white-box). An
    operation that has gone may leave its entry in the middle of a queue, its waiter claimed,
    until the queue is next settled or compacted (``Chan.dequeue_locked``): it does not count."""
    while True:
        try:
            entries = list(queue)
        except RuntimeError:  # changed while copied (free-threaded builds): look again
            continue
        return sum(not entry.waiter.claims for entry in entries)


def threads_started_since(before: set[threading.Thread]) -> set[threading.Thread]:
    """The threads running now that were not in `before` (a `set(threading.enumerate())`).

    Counting threads would be fooled by threads other tests left behind ending meanwhile.
    """
    return set(threading.enumerate()) - before


def blocked_receivers(rx: Any) -> int:
    """How many operations are parked receiving on the channel of ``rx`` (white-box)."""
    return live(rx._chan.recvq)


def blocked_senders(tx: Any) -> int:
    """How many operations are parked sending on the channel of ``tx`` (white-box)."""
    return live(tx._chan.sendq)


def nothing_queued(*handles: Any) -> bool:
    """No operation waits on the channel of any of ``handles`` (a handle that will be closed is
    passed as its channel, ``handle._chan``, taken beforehand)."""
    chans = [getattr(handle, "_chan", handle) for handle in handles]
    return not any(live(chan.recvq) or live(chan.sendq) for chan in chans)


def memory_growth(body: Callable[[], None], rounds: int) -> int:
    """Bytes still allocated after ``rounds`` calls of ``body`` beyond those after the first ten."""
    import gc
    import tracemalloc

    for _ in range(10):
        body()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            body()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def make(cap: int | None) -> tuple[mpsc.Sender[Any], mpsc.Receiver[Any]]:
    """A channel of capacity ``cap``: None for unbounded."""
    return mpsc.channel() if cap is None else mpsc.sync_channel(cap)


def drained(rx: Any) -> list[Any]:
    """What ``rx`` holds now (``try_recv`` until ``Empty`` or ``RecvError``)."""
    got = []
    while True:
        try:
            got.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError):
            return got


def recv_all(rx: Any) -> list[Any]:
    """Receive until the channel is disconnected and drained; each wait is bounded."""
    got = []
    while True:
        try:
            got.append(rx.recv_timeout(WAIT))
        except mpsc.RecvError:
            return got


class WatchedDeque(deque[Any]):
    """A channel buffer that records the largest length it ever had right after an append."""

    peak = 0

    def append(self, value: Any) -> None:
        super().append(value)
        self.peak = max(self.peak, len(self))

    def __iadd__(self, values: Any) -> WatchedDeque:  # how a blocked sender's value is admitted
        super().__iadd__(values)
        self.peak = max(self.peak, len(self))
        return self


def use_buffer(chan: Any, buf: deque[Any]) -> None:
    """Give a fresh (still empty) channel another buffer object (white-box)."""
    assert not chan.buf
    chan.buf = buf
    chan.take = map(deque.popleft, repeat(buf))


def watch(tx: Any) -> WatchedDeque:
    """Swap a fresh (still empty) channel's buffer for a WatchedDeque (white-box)."""
    watched = WatchedDeque()
    use_buffer(tx._chan, watched)
    return watched


@contextmanager
def watchdog(seconds: float, wake: Callable[[], None]) -> Iterator[None]:
    """Call ``wake()`` from another thread if the block still runs after ``seconds``: a call
    that should return at once but waits after all is woken (and fails its test) rather than
    hanging the run."""
    timer = threading.Timer(seconds, wake)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


class Children:
    """Starts child processes (forkserver unless told otherwise) and makes sure none outlives
    the test: the ``procs`` fixture (conftest) kills what is still running at its end."""

    def __init__(self) -> None:
        self.started: list[Any] = []

    def start(self, target: Any, *args: Any, ctx: Any = None) -> Any:
        import multiprocessing

        context = ctx if ctx is not None else multiprocessing.get_context("forkserver")
        process = context.Process(target=target, args=args, daemon=True)
        process.start()
        self.started.append(process)
        return process

    def join(self, process: Any, timeout: float = WAIT) -> int:
        process.join(timeout)
        assert process.exitcode is not None, f"child {process.pid} did not end within {timeout}s"
        return int(process.exitcode)

    def cleanup(self) -> None:
        for process in self.started:
            if process.is_alive():
                process.kill()
            process.join(WAIT)


class Boom(Exception):
    """What the signal handlers of the interrupt tests raise."""


def check_point() -> None:
    """A call of a Python function: CPython checks for pending exceptions as it starts (where an
    exception an mpsc call deferred past its return lands, at the latest)."""


class Interrupter:
    """A SIGALRM every ``interval`` seconds whose handler raises ``Boom`` in the main thread,
    but only while ``armed``: the test's own bookkeeping runs unarmed, so every exception lands
    inside an mpsc call (or is one that call deferred to just after its return)."""

    def __init__(self, interval: float) -> None:
        self.armed = False
        self.booms = 0
        self.interval = interval

    def _handler(self, *args: object) -> None:
        if self.armed:
            self.armed = False
            self.booms += 1
            raise Boom()

    def __enter__(self) -> Interrupter:
        self._old = signal.signal(signal.SIGALRM, self._handler)
        signal.setitimer(signal.ITIMER_REAL, self.interval, self.interval)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old)


def polls_counted(monkeypatch: Any, *modules: Any) -> list[int]:
    """Make the ``poll`` of each of ``modules`` (``mpsc._waiters`` and the modules that imported
    its ``poll``) record the timeout (ms) of each call in the list returned, and still poll.
    Fails the test where waits never spin (one CPU)."""
    import pytest

    from mpsc import _waiters

    if not _waiters.SPINNING:
        pytest.fail("this machine runs the tests on one CPU: the spin is off there")
    timeouts: list[int] = []
    real_poll = _waiters.poll

    def counting(poller: Any, timeout_ms: int) -> list[tuple[int, int]]:
        timeouts.append(timeout_ms)
        return real_poll(poller, timeout_ms)

    for module in modules:
        monkeypatch.setattr(module, "poll", counting)
    return timeouts
