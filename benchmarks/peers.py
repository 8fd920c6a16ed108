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
import importlib.util
import os
import pickle
import queue
import socket
import struct
import sys
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


# -- processes -----------------------------------------------------------------------------------
#
# A process peer works in two places. In the parent, channel() makes one one-way queue and the
# ends each process is given: picklable objects handed over as multiprocessing.Process
# arguments, the way each of these is documented to be shared (a zmq socket cannot be: its ends
# are an ipc:// address). In the children, sender() and receiver() bind the calls the workload
# loops make. The peer object itself travels to the children, so it holds only strings.

PAYLOAD_LENGTH = struct.Struct("<Q")  # the bare stream socket's frame header (large payloads)


@dataclass
class ProcessChannel:
    """One one-way queue between processes, made in the parent: one end per producer, the
    consumer's end, and ``close`` for the parent's own copies once the run is over."""

    producer_ends: list[Any]
    consumer_end: Any
    close: Callable[[], Any] = lambda: None


@dataclass
class SenderEnd:
    """A producer process's calls: ``put`` per message, ``finish`` once before it ends (flush,
    close: a process must not end with messages still in its own buffers), called after the
    consumer has received everything."""

    put: Put
    finish: Callable[[], Any] = lambda: None


@dataclass
class ReceiverEnd:
    """The consumer process's calls. ``leftover`` counts (and drains) what is still queued once
    every producer has ended; it must be 0."""

    get: Get
    leftover: Callable[[], int]
    finish: Callable[[], Any] = lambda: None


class ProcessPeer:
    """One way to move Python objects between processes. ``kinds`` are the workloads it takes
    part in: ``spsc`` and ``mpsc4`` (small tuples, 1 or 4 producers), ``pingpong``, ``large``."""

    name = "?"
    module: str | None = None  # checked with find_spec, not imported (see FasterFifoPeer)
    distribution: str | None = None
    note = ""
    large_note = ""  # how a 10 MB bytes payload travels and what it costs in copies
    kinds: frozenset[str] = frozenset({"spsc", "mpsc4", "pingpong", "large"})
    reasons: dict[str, str] = {}  # noqa: RUF012 - why a workload not in kinds is skipped ("": left out)

    def __init__(self) -> None:
        self.skip_reason: str | None = None
        self.version = ""
        if self.module is not None:
            if importlib.util.find_spec(self.module) is None:
                self.skip_reason = f"{self.distribution or self.module} is not installed"
            else:
                self.version = _dist_version(self.distribution or self.module)

    def offers(self, kind: str) -> str | None:
        """None if this peer takes part in workload ``kind``, or the reason it does not."""
        if self.skip_reason is not None:
            return self.skip_reason
        return None if kind in self.kinds else self.reasons.get(kind, "")

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        raise NotImplementedError

    def sender(self, end: Any, large: bool) -> SenderEnd:
        raise NotImplementedError

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        raise NotImplementedError


class MpscProcessPeer(ProcessPeer):
    """mpsc.process: ``channel()``, or ``sync_channel(capacity)``; the producers share one Sender
    passed to each of them (each process gets its own handle)."""

    module = "mpsc"

    def __init__(self, capacity: int | None = None) -> None:
        super().__init__()
        self.capacity = capacity
        if capacity is None:
            self.name = "mpsc.process"
            self.note = "channel(): small messages through a shared-memory ring, others a datagram each"
            self.large_note = "pickle (1 copy) written to a memfd (2), mapped and unpickled (3): 3 copies"
        else:
            self.name = f"mpsc.process bounded({capacity})"
            self.note = (
                "sync_channel(0): send returns once the receiver holds the value"
                if capacity == 0
                else f"sync_channel({capacity}): a credit pipe besides the socket"
            )
            self.kinds = frozenset({"pingpong"} if capacity == 0 else {"spsc", "mpsc4"})

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        import mpsc.process

        if self.capacity is None:
            tx, rx = mpsc.process.channel()
        else:
            tx, rx = mpsc.process.sync_channel(self.capacity)

        def close() -> None:
            tx.close()
            rx.close()

        return ProcessChannel([tx] * producers, rx, close)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        return SenderEnd(end.send, end.close)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        return ReceiverEnd(end.recv, lambda: sum(1 for _ in end.try_iter()), end.close)


class MpQueuePeer(ProcessPeer):
    name = "multiprocessing.Queue"
    note = "a pipe, a lock and a feeder thread per producer"
    large_note = "pickle (1), pipe write (2) and read (3), BytesIO (4), unpickle (5): 5 copies"

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        q = ctx.Queue()
        return ProcessChannel([q] * producers, q, q.close)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        def finish() -> None:
            end.close()
            end.join_thread()  # the feeder thread has written everything before the process ends

        return SenderEnd(end.put, finish)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        def leftover() -> int:
            left = 0
            while True:
                try:
                    end.get(timeout=0.01 if left == 0 else 0)
                except queue.Empty:
                    return left
                left += 1

        return ReceiverEnd(end.get, leftover)


class MpSimpleQueuePeer(ProcessPeer):
    name = "multiprocessing.SimpleQueue"
    note = "a pipe and a lock per side, no feeder thread: put writes"
    kinds = frozenset({"spsc", "mpsc4", "pingpong"})

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        q = ctx.SimpleQueue()
        return ProcessChannel([q] * producers, q, q.close)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        return SenderEnd(end.put)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        def leftover() -> int:
            left = 0
            while not end.empty():
                end.get()
                left += 1
            return left

        return ReceiverEnd(end.get, leftover)


def _pipes(ctx: Any, producers: int) -> ProcessChannel:
    """A Pipe(duplex=False) per producer: the producers' write ends, the list of read ends."""
    pairs = [ctx.Pipe(duplex=False) for _ in range(producers)]

    def close() -> None:
        for r, w in pairs:
            r.close()
            w.close()

    return ProcessChannel([w for _, w in pairs], [r for r, _ in pairs], close)


class MpPipePeer(ProcessPeer):
    """multiprocessing.Pipe(duplex=False), one per direction. With several producers, each has
    its own pipe and the consumer waits on all of them with multiprocessing.connection.wait
    (a Connection is not safe to share between writers)."""

    name = "multiprocessing.Pipe"
    note = "Pipe(duplex=False); 4 → 1: a pipe per producer, connection.wait in the consumer"
    large_note = "as multiprocessing.Queue without the feeder thread: 5 copies"

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        return _pipes(ctx, producers)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        return SenderEnd(end.send, end.close)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        conns: list[Any] = end

        def leftover() -> int:
            left = 0
            for conn in conns:
                try:
                    while conn.poll(0.01 if left == 0 else 0):
                        conn.recv()
                        left += 1
                except EOFError:
                    pass  # that producer closed its end: nothing more from it
            return left

        def close() -> None:
            for conn in conns:
                conn.close()

        if len(conns) == 1:
            return ReceiverEnd(conns[0].recv, leftover, close)
        from multiprocessing.connection import wait

        ready: list[Any] = []

        def get() -> Any:
            while not ready:
                ready.extend(wait(conns))
            return ready.pop().recv()

        return ReceiverEnd(get, leftover, close)


class BarePipePeer(ProcessPeer):
    """The floor of ping-pong: an os.pipe per direction, one write of the pickle per message and
    one read. A read returns exactly one message only because one is in flight at a time, so it
    takes part in ping-pong only. The pipe comes from multiprocessing.Pipe(duplex=False), which
    is an os.pipe on Linux whose Connection objects carry the fds to the children."""

    name = "bare pipe"
    note = "os.pipe; os.write(pickle.dumps(x)), pickle.loads(os.read(fd, 65536))"
    kinds = frozenset({"pingpong"})
    reasons = {  # noqa: RUF012
        kind: "a byte stream: needs framing (multiprocessing.Pipe's); bare socket is the floor"
        for kind in ("spsc", "mpsc4")
    }

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        return _pipes(ctx, producers)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        fd, write, dumps = end.fileno(), os.write, pickle.dumps

        def put(value: Any) -> None:
            write(fd, dumps(value, 5))

        return SenderEnd(put, end.close)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        (conn,) = end
        fd, read, loads = conn.fileno(), os.read, pickle.loads

        def get() -> Any:
            return loads(read(fd, 65536))

        def leftover() -> int:
            left = 0
            while conn.poll(0.01 if left == 0 else 0):
                if not read(fd, 65536):
                    break  # the writer closed
                left += 1
            return left

        return ReceiverEnd(get, leftover, conn.close)


class BareSocketPeer(ProcessPeer):
    """The floor mpsc.process is built on: an AF_UNIX SOCK_SEQPACKET socketpair (its datagrams
    are atomic, so producers share one end), pickle.dumps/loads per message, nothing else. A
    datagram must fit in the socket buffer, so 10 MB payloads take a SOCK_STREAM socketpair
    instead, with an 8-byte length and the raw bytes (no pickle)."""

    name = "bare socket"
    note = "socketpair(AF_UNIX, SOCK_SEQPACKET); send(pickle.dumps(x)), pickle.loads(recv(65536))"
    large_note = "SOCK_STREAM, length + raw bytes, no pickle: into the kernel (1), out into a bytearray (2)"

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        kind = socket.SOCK_STREAM if large else socket.SOCK_SEQPACKET
        if large and producers > 1:
            raise ValueError("a stream socket cannot be shared by several writers")
        consumer, producer = socket.socketpair(socket.AF_UNIX, kind)

        def close() -> None:
            consumer.close()
            producer.close()

        return ProcessChannel([producer] * producers, consumer, close)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        if large:
            sendall, pack = end.sendall, PAYLOAD_LENGTH.pack

            def put(value: Any) -> None:
                sendall(pack(len(value)))
                sendall(value)

        else:
            send, dumps = end.send, pickle.dumps

            def put(value: Any) -> None:
                send(dumps(value, 5))

        return SenderEnd(put, end.close)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        if large:
            recv_into = end.recv_into

            def fill(buffer: Any) -> Any:
                view = memoryview(buffer)
                while view:
                    got = recv_into(view)
                    if not got:
                        raise EOFError("the sender closed in the middle of a message")
                    view = view[got:]
                return buffer

            header = bytearray(PAYLOAD_LENGTH.size)

            def get() -> Any:
                (length,) = PAYLOAD_LENGTH.unpack(fill(header))
                return fill(bytearray(length))

        else:
            recv, loads = end.recv, pickle.loads

            def get() -> Any:
                return loads(recv(65536))

        def leftover() -> int:
            end.settimeout(0.01)
            left = 0
            try:
                while end.recv(65536):
                    left += 1
                    end.settimeout(0)
            except (TimeoutError, BlockingIOError):
                pass
            return left

        return ReceiverEnd(get, leftover, end.close)


class ZmqPeer(ProcessPeer):
    """pyzmq PUSH/PULL over ipc://: the consumer binds a PULL socket, each producer connects a
    PUSH socket, send_pyobj/recv_pyobj (pickle). A zmq socket does not cross a fork, so each
    process makes its own from the address."""

    name = "pyzmq PUSH/PULL"
    module = "zmq"
    distribution = "pyzmq"
    note = "ipc://; send_pyobj / recv_pyobj; ping-pong: a PUSH/PULL pair per direction"
    large_note = "pickle, a zmq message, the ipc socket, unpickle"

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        import shutil
        import tempfile

        directory = tempfile.mkdtemp(prefix="mpsc-bench-zmq-")
        address = f"ipc://{directory}/q"
        return ProcessChannel([address] * producers, address, lambda: shutil.rmtree(directory, True))

    def sender(self, end: Any, large: bool) -> SenderEnd:
        import zmq

        context = zmq.Context()
        sock = context.socket(zmq.PUSH)
        sock.connect(end)

        def finish() -> None:
            sock.close()
            context.term()

        return SenderEnd(sock.send_pyobj, finish)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        import zmq

        context = zmq.Context()
        sock = context.socket(zmq.PULL)
        sock.bind(end)

        def leftover() -> int:
            left = 0
            while sock.poll(10 if left == 0 else 0):
                sock.recv()
                left += 1
            return left

        def finish() -> None:
            sock.close(linger=0)
            context.term()

        return ReceiverEnd(sock.recv_pyobj, leftover, finish)


class FasterFifoPeer(ProcessPeer):
    """faster-fifo: a ring buffer in shared memory with a process-shared mutex and condition
    variables (C++). Not imported in the parent unless it runs: on a free-threaded build its
    import turns the GIL back on for the whole process."""

    name = "faster-fifo"
    module = "faster_fifo"
    distribution = "faster-fifo"
    note = "faster_fifo.Queue: a shared-memory ring buffer"
    large_note = "pickle, into the shared ring, out of it, unpickle"

    def __init__(self) -> None:
        super().__init__()
        gil_check = getattr(sys, "_is_gil_enabled", None)
        if self.skip_reason is None and gil_check is not None and not gil_check():
            self.skip_reason = (
                "not run on a free-threaded build: importing faster_fifo turns the GIL back on "
                "for the whole process"
            )

    def channel(self, ctx: Any, producers: int, large: bool) -> ProcessChannel:
        import faster_fifo

        # The ring must hold a whole message: 10 MB payloads need a ring bigger than the default.
        q = faster_fifo.Queue(max_size_bytes=32_000_000) if large else faster_fifo.Queue()
        return ProcessChannel([q] * producers, q, q.close)

    def sender(self, end: Any, large: bool) -> SenderEnd:
        return SenderEnd(end.put)

    def receiver(self, end: Any, large: bool) -> ReceiverEnd:
        return ReceiverEnd(end.get, _empty_count(end.get_nowait, queue.Empty))


def process_peers() -> dict[str, ProcessPeer]:
    peers: list[ProcessPeer] = [
        MpscProcessPeer(),
        MpscProcessPeer(1000),
        MpscProcessPeer(0),
        MpQueuePeer(),
        MpSimpleQueuePeer(),
        MpPipePeer(),
        BarePipePeer(),
        BareSocketPeer(),
        ZmqPeer(),
        FasterFifoPeer(),
    ]
    return {peer.name: peer for peer in peers}
