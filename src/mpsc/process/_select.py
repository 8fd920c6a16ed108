"""A process channel's handle as an operation of ``mpsc.select``, beside thread channels and timers.

``mpsc._ops`` runs a select over *channels*: it tries the ready ones, queues one waiter on all
of them, sleeps, and lets whichever channel completes the waiter claim it. A process channel
cannot take part in that hand-off (its peers are in other processes), so it takes part the way
a timer does: it never completes a queued waiter. Its operation is tried only in the select's
own thread, in the pass over the ready operations (``try_ops``), where it is the handle's own
non-blocking ``try_recv``/``try_send``; while the select sleeps, the operation contributes the
file descriptors whose readiness means "try again" (the waiter watches them: ``PollWaiter`` for a
thread, the loop's ``add_reader`` for a task). Claim-once follows: in one round either a thread
channel claims the waiter (and no process operation was tried since it was queued) or the
sleeper claims it itself and looks again; a process operation completes only in a look, and a
look completes at most one operation.

:class:`Source` stands where ``_ops`` expects a channel (``Operation.chan``) and a handle
(``Operation.handle``): ``poll``/``offer`` are the attempts, ``enqueue_locked`` /
``dequeue_locked`` bracket one round of waiting (they keep the handle's fds open for the round,
as every call through a process handle does, and on a rendezvous channel leave the hint that a
receiver is waiting, so that ``try_send`` finds a select as it finds a blocked ``recv``).
A round's state is kept per queue entry, so one Source (an operation of a ``Select``) serves
several threads selecting at once.

What a select over process channels adds to the thread channels' guarantees: readiness is seen
within a poll (no wake-up is lost), and a handle closed by another thread is noticed within
``WATCH_SLICE``. Under trio, ``select_async`` with a process channel raises ``RuntimeError``
(mpsc.process's async methods run on asyncio only).
"""

from __future__ import annotations

import os
from threading import Lock
from typing import TYPE_CHECKING, Any

from .._core import NOTHING
from .._errors import Empty, Full
from .._ownership import CLOSED
from . import _rendezvous
from ._endpoint import Endpoint, Use
from ._rings import BUSY, may_wait
from ._waiting import READABLE, WRITABLE, pipe_bytes

if TYPE_CHECKING:
    from .._core import Entry
    from ._handles import Receiver, Sender


class _Round(Use):
    """One waiter's round of waiting on a Source: inside the endpoint, and its hint if any."""

    __slots__ = ("endpoint", "hinted", "room", "sleeping")

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self.endpoint = endpoint  # (the handle may be closed by another thread meanwhile)
        self.hinted = False
        self.sleeping = False  # counted among its ring's sleepers
        self.room = False  # counted among its ring's senders that wait for room


class Source:
    """A receive from a process Receiver, or a send on a process Sender, in a select."""

    __slots__ = ("_rounds", "handle", "lock", "sending")

    watches_fds = True
    kind = "process channel"

    def __init__(self, handle: Receiver[Any] | Sender[Any], sending: bool) -> None:
        self.handle = handle
        self.sending = sending
        self.lock = Lock()  # (Wait.join and Wait.leave hold it around enqueue and dequeue)
        self._rounds: dict[Entry, _Round] = {}

    @property
    def _chan(self) -> Any:
        """What ``mpsc._ownership.is_open`` compares: this Source while its handle is open."""
        endpoint: Endpoint | None = self.handle._ep
        return self if endpoint is not None and not endpoint.closed else CLOSED

    # -- the attempts (try_ops) ----------------------------------------------------------------

    def may_recv(self) -> bool:
        return True  # the attempt is one non-blocking system call: make it

    def may_send(self) -> bool:
        return True

    def due(self) -> None:
        return None

    def poll(self) -> Any:
        """``try_recv``: the value, or ``NOTHING``; ``RecvError`` once none ever will come.
        The value comes back as ``try_recv`` returns it (an exception that landed after the
        message was taken is raised after the select returns it)."""
        try:
            return self.handle._recv(None, True)  # type: ignore[union-attr]
        except Empty:
            return NOTHING

    def offer(self, value: Any) -> bool:
        """``try_send``: True if sent; False if it would wait; ``SendError`` with no receiver."""
        try:
            self.handle._send(value, None, True)  # type: ignore[union-attr]
        except Full:
            return False
        return True

    # -- one round of waiting (Wait.join, Wait.leave) --------------------------------------------

    def enqueue_locked(self, entry: Entry) -> None:
        """The waiter is about to sleep: keep the fds open, say which to watch (and, receiving
        on a rendezvous channel, that a receiver waits)."""
        watch: list[tuple[int, int]] | None = getattr(entry.waiter, "watch", None)
        if watch is None:
            raise RuntimeError(
                "select_async over mpsc.process channels runs on asyncio only, not yet under trio"
            )
        endpoint: Endpoint | None = self.handle._ep
        if endpoint is None:
            self.handle._open()  # (raises ClosedHandleError)
            return
        round_ = self._rounds[entry] = _Round(endpoint)
        endpoint.enter(round_)
        sock = endpoint.sock.fileno()
        if not self.sending:
            watch.append((sock, READABLE))
            if endpoint.capacity == 0 and not round_.hinted:
                round_.hinted = _rendezvous.hint(endpoint.credit_w)
            ring = endpoint.ring
            if ring is not None:
                # Counted among the sleepers, senders wake it; what they pushed before (after
                # the select's look) came with no wake-up: then the wait must not sleep.
                for round_.sleeping in map(type(ring).sleep_begin, (ring,)):
                    break
                # (Not while its lock's holder does not run: the look would find it busy again,
                # at once. A publish WAKEs this sleeper; else its slice, then again.)
                if ring.ready() and not endpoint.ring_busy:
                    watch.append((_ready_now(), READABLE))
            return
        ring = endpoint.ring
        if ring is not None:
            # The ring was full (a receiver that frees room sends a ROOM, which makes this end
            # readable, as the last receiver's going does), or, for a message with fds, the
            # kernel's buffer: counted among the senders that wait for room, then a look again.
            for round_.room in map(type(ring).room_begin, (ring,)):
                break
            watch.append((sock, READABLE))
            try:
                if ring.room(may_wait()):
                    watch.append((sock, WRITABLE))
            except BUSY:  # the lock's holder does not run now: its slice, then again
                pass
            return
        if endpoint.capacity is None:
            watch.append((sock, WRITABLE))  # the kernel's buffer was full
            return
        if endpoint.capacity and pipe_bytes(endpoint.credit_r):
            watch.append((sock, WRITABLE))  # a slot was free: the kernel's buffer was full
            return
        # A slot (a credit; on a rendezvous channel, a receiver's hint that it waits) or the
        # last receiver leaving, which the send end reports as readable.
        watch.append((endpoint.credit_r, READABLE))
        watch.append((sock, READABLE))

    def dequeue_locked(self, entry: Entry) -> None:
        """The round is over: take the hint back (unless a ``try_send`` took it), let the fds
        go. Restartable."""
        round_ = self._rounds.get(entry)
        if round_ is None:
            return
        endpoint = round_.endpoint
        _rendezvous.take_hint_back(round_, endpoint.credit_r)
        if round_.sleeping:
            ring = endpoint.ring
            for round_.sleeping in map(type(ring).sleep_end, (ring,)):
                break
        if round_.room:
            ring = endpoint.ring
            for round_.room in map(type(ring).room_end, (ring,), (endpoint.fd,)):
                break
        endpoint.leave(round_)
        del self._rounds[entry]

    def describe(self) -> str:
        return repr(self.handle)


_READY: list[int] = []


def _ready_now() -> int:
    """An fd that is always readable (a pipe holding a byte nobody reads): watched, it makes a
    wait end at once."""
    if not _READY:
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        os.write(write_end, b"r")
        _READY.append(read_end)  # (the write end stays open: no hang-up)
        _READY.append(write_end)
    return _READY[0]


__all__ = ["Source"]
