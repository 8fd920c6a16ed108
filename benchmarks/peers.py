"""Peer adapters: each implementation set up for a workload in its own natural idiom.

A peer turns a workload's request ("1 producer, capacity 64", "thread to asyncio", ...) into
:class:`Ends`: the bound methods the workload calls in its loops. The loops themselves live in
``workloads`` and are the same for everyone, so what differs between two rows of a result is
the channel, not the benchmark code. Methods are bound once (``q.put``, ``tx.send``,
``q.async_q.get``) for every peer alike.

A peer that does not offer a workload returns None from that method (asyncio.Queue cannot be
read from a thread, deque does not block). A peer whose package does not import is kept with
the reason, and the report lists it as skipped.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import queue
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Put = Callable[[Any], Any]
Get = Callable[[], Any]
APut = Callable[[Any], Awaitable[Any]]
AGet = Callable[[], Awaitable[Any]]


@dataclass
class Ends:
    """What a workload calls. ``puts`` holds one put per producer (mpsc: one Sender clone each).

    ``put``/``get`` are blocking calls for threads (or, for ``puts`` used in a task, calls that
    never block); ``aput``/``aget`` are coroutine functions for asyncio tasks. ``leftover``
    counts what is still queued after a run (it must be 0); ``close`` is the peer's own
    cleanup, awaited if it returns an awaitable.
    """

    puts: list[Put] = field(default_factory=list)
    get: Get | None = None
    aput: APut | None = None
    aget: AGet | None = None
    leftover: Callable[[], int] = lambda: 0
    close: Callable[[], Any] = lambda: None
    keep: Any = None  # the objects themselves, kept alive for the run
    # Where set, the thread consumer iterates over it (``for value in iterate``) instead of
    # calling ``get`` (mpsc's receiver, the way the Rust book's example receives).
    iterate: Any = None


class Peer:
    """One implementation. Subclasses override the workload methods they support."""

    name = "?"
    module: str | None = None  # the package to import; None for the stdlib
    note = ""

    def __init__(self) -> None:
        self.skip_reason: str | None = None
        self.version = ""
        if self.module is not None:
            try:
                mod = importlib.import_module(self.module)
            except Exception as exc:  # ImportError, or a broken build raising anything else
                self.skip_reason = f"import {self.module} failed: {type(exc).__name__}: {exc}"
            else:
                self.version = str(getattr(mod, "__version__", "") or _dist_version(self.module))

    # Thread workloads: `producers` threads put, one thread gets. capacity None = unbounded.
    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        return None

    # Ping-pong: a request channel and a reply channel; `get`/`puts[0]` are the requests,
    # the returned pair's second element the replies.
    def pingpong(self) -> tuple[Ends, Ends] | None:
        ends = self.threads(None, 1)
        if ends is None:
            return None
        replies = self.threads(None, 1)
        assert replies is not None
        return ends, replies

    # thread -> asyncio: puts[0] is called in a thread, aget awaited in a task on `loop`.
    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    # asyncio -> thread: aput (or puts[0] when the peer's natural put never blocks) in a task,
    # get in a thread.
    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    # asyncio -> asyncio on one loop.
    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    # Memory: make() builds one empty channel and returns the objects a program keeps for it
    # (mpsc: the Sender and the Receiver); put_of() gives the call that queues one message.
    # None where the peer is not measured.
    def make(self) -> tuple[Any, ...] | None:
        return None

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        raise NotImplementedError


def _dist_version(module: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return ""


def _empty_count(get_nowait: Callable[[], Any], *errors: type[BaseException]) -> Callable[[], int]:
    """A leftover() that drains what is still queued and says how much there was."""

    def leftover() -> int:
        count = 0
        while True:
            try:
                get_nowait()
            except errors:
                return count
            count += 1

    return leftover


# -- the standard library ---------------------------------------------------------------------


class SimpleQueuePeer(Peer):
    name = "queue.SimpleQueue"
    note = "C; unbounded only"

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        if capacity is not None:
            return None
        q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        return Ends([q.put] * producers, q.get, leftover=_empty_count(q.get_nowait, queue.Empty), keep=q)

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        # The stdlib's way out of a loop: SimpleQueue.put never blocks, so the task calls it.
        return self.threads(None, 1)

    def make(self) -> tuple[Any, ...] | None:
        return (queue.SimpleQueue(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].put  # type: ignore[no-any-return]


class QueuePeer(Peer):
    name = "queue.Queue"

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        q: queue.Queue[Any] = queue.Queue(capacity or 0)
        return Ends([q.put] * producers, q.get, leftover=_empty_count(q.get_nowait, queue.Empty), keep=q)

    def make(self) -> tuple[Any, ...] | None:
        return (queue.Queue(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].put  # type: ignore[no-any-return]


class AsyncioQueuePeer(Peer):
    name = "asyncio.Queue"
    note = "from threads: loop.call_soon_threadsafe(q.put_nowait, x)"

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        put = functools.partial(loop.call_soon_threadsafe, q.put_nowait)
        return Ends([put], aget=q.get, leftover=q.qsize, keep=q)

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q: asyncio.Queue[Any] = asyncio.Queue()
        return Ends(aput=q.put, aget=q.get, leftover=q.qsize, keep=q)

    def make(self) -> tuple[Any, ...] | None:
        return (asyncio.Queue(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].put_nowait  # type: ignore[no-any-return]


class DequePeer(Peer):
    name = "collections.deque"
    note = "memory reference: a bare deque, no blocking"

    def make(self) -> tuple[Any, ...] | None:
        return (deque(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].append  # type: ignore[no-any-return]


# -- third-party mixed sync/async queues -------------------------------------------------------


class JanusPeer(Peer):
    name = "janus"
    module = "janus"
    note = "sync_q in threads, async_q in tasks; aclose() at the end"

    def _queue(self, maxsize: int = 0) -> Any:
        import janus

        return janus.Queue(maxsize)

    def _ends(self, q: Any, **kw: Any) -> Ends:
        return Ends(leftover=q.sync_q.qsize, close=q.aclose, keep=q, **kw)

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, puts=[q.sync_q.put], aget=q.async_q.get)

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, aput=q.async_q.put, get=q.sync_q.get)

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, aput=q.async_q.put, aget=q.async_q.get)

    def make(self) -> tuple[Any, ...] | None:
        return (self._queue(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].sync_q.put  # type: ignore[no-any-return]


class CulsansPeer(Peer):
    name = "culsans"
    module = "culsans"
    note = "janus-compatible: sync_q in threads, async_q in tasks"

    def _queue(self, maxsize: int = 0) -> Any:
        import culsans

        return culsans.Queue(maxsize)

    def _ends(self, q: Any, **kw: Any) -> Ends:
        return Ends(leftover=q.qsize, close=q.aclose, keep=q, **kw)

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        q = self._queue(capacity or 0)
        return self._ends(q, puts=[q.sync_q.put] * producers, get=q.sync_q.get)

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, puts=[q.sync_q.put], aget=q.async_q.get)

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, aput=q.async_q.put, get=q.sync_q.get)

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue()
        return self._ends(q, aput=q.async_q.put, aget=q.async_q.get)

    def make(self) -> tuple[Any, ...] | None:
        return (self._queue(),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].sync_q.put  # type: ignore[no-any-return]


class AiologicPeer(Peer):
    name = "aiologic"
    module = "aiologic"
    note = "SimpleQueue (unbounded) / Queue(maxsize): green_* in threads, async_* in tasks"

    def _queue(self, capacity: int | None) -> Any:
        import aiologic

        return aiologic.SimpleQueue() if capacity is None else aiologic.Queue(capacity)

    def _ends(self, q: Any, **kw: Any) -> Ends:
        return Ends(leftover=q.__len__, keep=q, **kw)

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        q = self._queue(capacity)
        return self._ends(q, puts=[q.green_put] * producers, get=q.green_get)

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue(None)
        return self._ends(q, puts=[q.green_put], aget=q.async_get)

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue(None)
        return self._ends(q, aput=q.async_put, get=q.green_get)

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        q = self._queue(None)
        return self._ends(q, aput=q.async_put, aget=q.async_get)

    def make(self) -> tuple[Any, ...] | None:
        return (self._queue(None),)

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].green_put  # type: ignore[no-any-return]


class PygolangPeer(Peer):
    """Go's channels in C++ (threads runtime). Only in the select workloads."""

    name = "pygolang"
    module = "golang"
    note = "chan(n) with select(); C++, GIL released while blocked"

    def __init__(self) -> None:
        super().__init__()
        if self.skip_reason is not None:
            self.skip_reason = (
                "pygolang is not installed (its only release, 0.1, builds only with Cython < 3; "
                "`make bench` tries that and leaves it out if the build fails): " + self.skip_reason
            )


# -- mpsc ----------------------------------------------------------------------------------------


class MpscPeer(Peer):
    name = "mpsc"
    module = "mpsc"
    note = "send/recv in threads, send_async/recv_async in tasks; one Sender clone per producer"

    def _pair(self, capacity: int | None) -> Any:
        import mpsc

        return mpsc.channel() if capacity is None else mpsc.bounded(capacity)

    def _ends(self, tx: Any, rx: Any, **kw: Any) -> Ends:
        def close() -> None:
            tx.close()
            rx.close()

        return Ends(leftover=rx.__len__, close=close, keep=(tx, rx), **kw)

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        tx, rx = self._pair(capacity)
        senders = [tx] + [tx.clone() for _ in range(producers - 1)]
        ends = self._ends(tx, rx, puts=[s.send for s in senders], get=rx.recv)
        ends.keep = (senders, rx)
        return ends

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        tx, rx = self._pair(None)
        return self._ends(tx, rx, puts=[tx.send], aget=rx.recv_async)

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        tx, rx = self._pair(None)
        return self._ends(tx, rx, aput=tx.send_async, get=rx.recv)

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        tx, rx = self._pair(None)
        return self._ends(tx, rx, aput=tx.send_async, aget=rx.recv_async)

    def make(self) -> tuple[Any, ...] | None:
        return self._pair(None)  # type: ignore[no-any-return]

    def put_of(self, objs: tuple[Any, ...]) -> Put:
        return objs[0].send  # type: ignore[no-any-return]


class _MpscVariant(MpscPeer):
    """An mpsc variant that takes part only in the workloads whose methods it overrides."""

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        return None

    def pingpong(self) -> tuple[Ends, Ends] | None:
        return None

    def thread_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    def async_to_thread(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    def async_to_async(self, loop: asyncio.AbstractEventLoop) -> Ends | None:
        return None

    def make(self) -> tuple[Any, ...] | None:
        return None


class MpscForLoopPeer(_MpscVariant):
    """mpsc with the consumer thread receiving by ``for value in rx`` instead of ``rx.recv()``."""

    name = "mpsc for-loop"
    note = "the consumer thread iterates: for value in rx"

    def threads(self, capacity: int | None, producers: int) -> Ends | None:
        ends = MpscPeer.threads(self, capacity, producers)
        assert ends is not None
        ends.iterate = ends.keep[1]
        return ends


class MpscRendezvousPeer(_MpscVariant):
    """mpsc.bounded(0) for ping-pong: each send returns once the other side holds the value."""

    name = "mpsc bounded(0)"

    def pingpong(self) -> tuple[Ends, Ends] | None:
        a = MpscPeer.threads(self, 0, 1)
        b = MpscPeer.threads(self, 0, 1)
        assert a is not None
        assert b is not None
        return a, b


class MpscBoundedContainerPeer(_MpscVariant):
    """mpsc.bounded(capacity), in the memory workloads only."""

    def __init__(self, capacity: int, label: str) -> None:
        super().__init__()
        self.capacity = capacity
        self.name = f"mpsc bounded({label})"

    def make(self) -> tuple[Any, ...] | None:
        return self._pair(self.capacity)  # type: ignore[no-any-return]


def all_peers() -> dict[str, Peer]:
    peers: list[Peer] = [
        MpscPeer(),
        MpscForLoopPeer(),
        MpscRendezvousPeer(),
        MpscBoundedContainerPeer(10**6, "10**6"),
        MpscBoundedContainerPeer(64, "64"),
        SimpleQueuePeer(),
        QueuePeer(),
        AsyncioQueuePeer(),
        DequePeer(),
        AiologicPeer(),
        CulsansPeer(),
        JanusPeer(),
        PygolangPeer(),
    ]
    return {peer.name: peer for peer in peers}
