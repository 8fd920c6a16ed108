"""Channel state: buffer, endpoint counts, wait queues, and the one lock that decides hand-offs.

Every flavour (``_buffered``, ``_rendezvous``, ``_timers``) is a subclass of :class:`Chan`. What
they share lives here: the queues of blocked operations (``recvq``, ``sendq``), how an operation
joins and leaves them, how a queued operation is completed, and what happens when the last
handle of a side is released. How an operation waits is ``_ops``; who owns a handle is
``_ownership``.

Locking rules, which the flavours follow:

* ``recvq``, ``sendq``, the counts and the disconnection flags change only under ``lock``.
* ``buf`` (and ``slots``, the bounded flavour's permits) may be touched without the lock, by
  the lock-free steps of ``poll`` and ``offer``; ``deque.append``/``popleft``/``pop`` are atomic
  on every CPython.
* A queued operation is completed only by whoever claims its waiter (see ``_waiters``), in one
  *burst* (see ``_interrupts``): claim, record the outcome, wake a parked thread, and take the
  entry out of its queue, with no point in between where an exception could land. A task is
  told to expect its outcome (``Waiter.alert``) just before the burst, since waking it runs
  the event loop's Python code.
* ``settle_locked`` completes whatever can complete now and can be run again at any time: an
  exception landing between two bursts leaves the channel consistent, and settling again goes
  on from there. That is how every locked step recovers (``_interrupts.complete``).
* User objects are never released while the lock is held (their ``__del__`` could call back
  into the channel): dropped messages are carried out of the locked region first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import repeat
from threading import Lock
from typing import Any, ClassVar, Final, Generic, TypeVar, cast

from ._fork import register
from ._waiters import LATER, NOW, RETRY, Waiter

T = TypeVar("T")

SENDERS: Final = 0
RECEIVERS: Final = 1

PERMIT: Final = (True,)
"""``slots += PERMIT`` gives a permit back without a check point (``slots.append`` has one)."""


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final[Any] = _Nothing()
"""What ``Chan.poll`` returns when there is nothing to receive right now."""

NO_QUEUE: Final = cast("deque[Entry]", ())
"""The wait queue of a channel on which nobody has waited yet: an empty tuple, shared (a deque
costs 760 bytes). ``enqueue_locked`` makes the real one when the first operation waits; it is
never taken away again. Everything that reads a queue without adding to it reads a tuple the
same way: its truth, ``len``, iteration (and the C pass, ``Py_SIZE``)."""


NO_DEQUE: Final[deque[Any]] = deque()
"""One empty deque shared by every channel in place of a deque it has not needed yet (a deque
costs 760 bytes, most of a channel): its buffer until the first send (which makes its own,
``Chan.own_buffer``), a bounded channel's permits until the first send (``_make_permits``),
a rendezvous channel's permits for ever. Nothing is ever added to it: every send checks for it
before it appends, and a permit is only ever given back to the deque it was taken from. Read,
it is what it stands for, empty: its truth, ``len``, ``NO_TAKE``, a failed ``del slots[-1]``."""

NO_TAKE: Final[Iterator[Any]] = map(deque.popleft, repeat(deque()))
"""``Chan.take`` until the channel has its own buffer: raises ``IndexError``, as an empty one does."""


class _Left:
    """The waiter of an entry left in the middle of its queue by an operation that has gone
    (``Chan.dequeue_locked``): claimed for good, so that everyone skips the entry, and no longer
    the operation's own waiter, which may serve the thread's next wait. Its claims are a tuple:
    a claim made on it (``claims += (entry,)``) never wins and changes nothing."""

    __slots__ = ()
    claims: Final = (None,)


LEFT: Final[Any] = _Left()

_COMPACT_AT: Final = 32
"""Entries left in the middle of a wait queue before it may be compacted (see dequeue_locked)."""


class Entry:
    """One operation's place in a channel's wait queue while it waits.

    ``index`` is the operation's position in its ``select`` (0 for a plain send or recv),
    ``handle`` the Sender or Receiver it was made through (closing that handle wakes it),
    ``value`` the value a send offers, and ``waiter`` who sleeps on it.
    """

    __slots__ = ("chan", "handle", "index", "sending", "value", "waiter")

    def __init__(
        self, chan: Chan[Any], handle: Any, value: Any, sending: bool, index: int, waiter: Waiter
    ) -> None:
        self.chan = chan
        self.handle = handle
        self.value = value
        self.sending = sending
        self.index = index
        self.waiter = waiter


class Chan(Generic[T]):
    """The state of one channel, shared by all its handles."""

    __slots__ = (
        "__weakref__",
        "buf",
        "cap",
        "ended",
        "lock",
        "receivers",
        "recvq",
        "rx_gone",
        "senders",
        "sendq",
        "slots",
        "stale",
        "take",
        "tx_gone",
    )

    kind: ClassVar[str] = "channel"
    watches_fds: ClassVar[bool] = False
    """True for what stands in a channel's place in a select over process channels
    (``mpsc.process._select``): its waiter must be one that also watches file descriptors."""

    def __init__(self, cap: int | None) -> None:
        self.lock = Lock()
        self.buf: deque[T] = NO_DEQUE
        self.take: Iterator[T] = NO_TAKE
        """``for value in chan.take: break`` pops the oldest value straight into ``value``
        (``IndexError`` when empty): unlike ``value = buf.popleft()``, no check point comes
        between the pop and the store, so an interrupt cannot drop the value on the floor."""
        # Permits of the bounded flavour; None where sending needs none (see _buffered).
        self.slots: deque[bool] | None = None
        self.recvq: deque[Entry] = NO_QUEUE
        self.sendq: deque[Entry] = NO_QUEUE
        self.stale = 0  # entries left in the middle of a queue by operations that left it
        self.cap = cap
        self.senders = 1
        self.receivers = 1
        self.tx_gone = False  # every Sender released: receivers drain, then RecvError
        self.rx_gone = False  # every Receiver released: sends fail with SendError
        # A receiver has reported RecvError: final, whatever a send racing the close of its own
        # handle appends afterwards (it takes its value back out, see ``Unbounded.offer``).
        self.ended = False
        register(self)

    # -- what each flavour defines -------------------------------------------------------------

    def offer(self, value: T) -> bool:
        """Send without blocking: True if sent, False if it would block; SendError if disconnected."""
        raise NotImplementedError

    def poll(self) -> T:
        """Receive without blocking: a value, or NOTHING; RecvError once drained and disconnected."""
        raise NotImplementedError

    def after_append(self, value: T, withdrawn: list[bool]) -> None:
        """(Buffered flavours) what follows a lock-free append that saw a waiter or a
        disconnection; see ``Unbounded.after_append``."""
        raise NotImplementedError

    def settle_locked(self) -> list[T] | None:
        """Complete every waiting operation that can complete now (the lock is held); return
        the messages dropped because no receiver is left, to be released after the lock."""
        raise NotImplementedError

    def may_recv(self) -> bool:
        """A lock-free hint: could a receive complete now (a value is there, or none ever will
        be)? False means it would wait — true at the instant of the look."""
        return bool(self.buf) or self.tx_gone

    def may_send(self) -> bool:
        """A lock-free hint: could a send complete now (room, a waiting receiver, or none left)?"""
        return True

    def due(self) -> float | None:
        """For timers, the monotonic instant their next value is due; None for channels."""
        return None

    def length(self) -> int:
        """How many messages are buffered now."""
        return len(self.buf)

    def is_full(self) -> bool:
        """Whether a send would have to wait for room now."""
        return self.cap is not None and len(self.buf) >= self.cap

    def describe(self) -> str:
        """The flavour as its constructor call would read, e.g. ``bounded(16)``."""
        return self.kind

    def own_buffer(self) -> deque[T]:
        """The channel's buffer, made now if nothing was sent yet (it was ``NO_DEQUE``). Made
        once, under the lock, and never replaced; ``take`` is set before ``buf``, so whoever sees
        the new buffer pops from it. Restartable: an interrupt before ``buf`` is set leaves the
        channel unbuffered (a receive then finds it empty, truly: nothing was appended yet)."""
        with self.lock:
            return self.own_buffer_locked()  # (the C steps leave the first send to this)

    def own_buffer_locked(self) -> deque[T]:
        """``own_buffer`` with the lock held."""
        buf = self.buf
        if buf is NO_DEQUE:
            buf = deque()
            self.take = map(deque.popleft, repeat(buf))
            self.buf = buf
        return buf

    # -- settling ----------------------------------------------------------------------------

    def settle(self) -> None:
        """Complete whatever can complete now. Restartable: ``_interrupts.complete`` runs it
        again after an exception lands in it."""
        with self.lock:
            dropped = self.settle_locked()
        del dropped  # released here, outside the lock

    # The lock-free steps call these when they see someone waiting on the other side.
    after_send = settle
    after_recv = settle

    def wake_all_locked(self, queue: deque[Entry]) -> None:
        """Wake every operation in ``queue`` to look again (it can never complete here)."""
        while queue:
            entry = queue[0]
            if not entry.waiter.claims:
                entry.waiter.alert()
            complete_at(queue, 0, RETRY)

    def settle_disconnected_locked(self) -> None:
        """Wake the operations that can never complete: every send once no receiver is left,
        every receive once no sender is left and the buffer is drained (or a receiver saw the
        end). With one side gone, whatever waits on that side waits through a handle that is
        no longer open (closed, or moved into a thread by spawn): it is woken to see that."""
        if self.rx_gone:
            self.wake_all_locked(self.sendq)
            self.wake_all_locked(self.recvq)
            return
        if self.tx_gone:
            self.wake_all_locked(self.sendq)
            if self.ended or not self.buf:
                self.wake_all_locked(self.recvq)

    def wake_through_locked(self, handle: object) -> None:
        """Wake the operations blocked through ``handle``, which was just closed."""
        for queue in (self.recvq, self.sendq):
            position = 0
            while position < len(queue):
                entry = queue[position]
                if entry.handle is handle:
                    if not entry.waiter.claims:
                        entry.waiter.alert()
                    complete_at(queue, position, RETRY)
                else:
                    position += 1

    # -- ownership: the last handle of a side disconnects it (``_ownership`` counts them) ------

    def release_locked(self, side: int, handle: Any, marker: object) -> list[T] | bool | None:
        """Release one handle of ``side``: mark ``handle`` with ``marker`` and count it gone, in
        one burst (``handle`` is None for a collected one, on which no call can be blocked),
        then settle (restartable: ``settle_after_release``). False if ``handle`` was released
        already; otherwise the messages dropped, to be released after the lock."""
        if handle is not None:
            if handle._chan is not self:  # (``_ownership.is_open``, inline: this is a burst)
                return False
            handle._chan = marker
        if side == SENDERS:
            self.senders -= 1
            if not self.senders:
                self.tx_gone = True
        else:
            self.receivers -= 1
            if not self.receivers:
                self.rx_gone = True
        return self.settle_after_release_locked(handle)

    def settle_after_release_locked(self, handle: object) -> list[T] | None:
        if handle is not None:
            self.wake_through_locked(handle)
        return self.settle_locked()

    def settle_after_release(self, handle: object) -> None:
        """``settle`` after ``handle`` was released, for ``_interrupts.complete``."""
        with self.lock:
            dropped = self.settle_after_release_locked(handle)
        del dropped

    # -- joining and leaving the wait queues ---------------------------------------------------

    def enqueue_locked(self, entry: Entry) -> None:
        """Queue a blocked operation, then complete whatever now can (it, maybe)."""
        if entry.sending:
            if self.rx_gone:
                entry.waiter.alert()
                complete_alone(entry, RETRY)  # it looks again and sees the disconnection
                return
            self.joined_queue_locked(True).append(entry)
        else:
            if self.tx_gone and (self.ended or not self.buf):
                entry.waiter.alert()
                complete_alone(entry, RETRY)
                return
            self.joined_queue_locked(False).append(entry)
        dropped = self.settle_locked()
        assert dropped is None  # only a send can leave messages to drop, and none was made here

    def joined_queue_locked(self, sending: bool) -> deque[Entry]:
        """The wait queue of one side, made now if nobody has waited there yet (``NO_QUEUE``)."""
        if sending:
            if self.sendq is NO_QUEUE:
                self.sendq = deque()
            return self.sendq
        if self.recvq is NO_QUEUE:
            self.recvq = deque()
        return self.recvq

    def dequeue_locked(self, entry: Entry) -> None:
        """Take a blocked operation that is leaving out of its queue: O(1), amortized.

        An entry through which its waiter was completed left its queue in that burst (every
        claim by an entry takes it out). Any other is taken out at once when it is at either end
        of its queue — the usual case, waiters leaving in the order they came or the last one
        first. One in the middle stays, given the waiter ``LEFT`` (the operation's own may wait
        again, unclaimed, for another call): everyone skips it, and it is dropped when it
        reaches the head (``first_live``) or when the queue is compacted, once the entries so
        left number half of it (the scan is paid for by the leavings before)."""
        claims = entry.waiter.claims
        if claims and claims[0] is entry:
            return
        queue = self.sendq if entry.sending else self.recvq
        if not queue:
            return
        if queue[0] is entry:
            del queue[0]
        elif queue[-1] is entry:
            del queue[-1]
        elif not claims:  # (a waiter leaves once it is claimed; were it not, the careful way)
            try:
                queue.remove(entry)
            except ValueError:
                pass
        else:
            entry.waiter = LEFT
            self.stale += 1
            if self.stale >= _COMPACT_AT and 2 * self.stale >= len(queue):
                self.compact_locked(entry.sending)

    def compact_locked(self, sending: bool) -> None:
        """Drop every entry of a wait queue whose waiter is claimed. The queue is replaced, not
        changed: an interrupt while the new one is made leaves the old one whole, and a
        lock-free reader still holding the old one sees it non-empty, so it settles under the
        lock and finds the new one (the ordering argument of ``_buffered`` holds)."""
        queue = self.sendq if sending else self.recvq
        live = deque([entry for entry in queue if not entry.waiter.claims])
        if sending:
            self.sendq = live
        else:
            self.recvq = live
        self.stale = 0

    def drop_buffer_locked(self) -> list[T]:
        """Empty the buffer (every receiver is gone); the caller releases what it returns."""
        dropped: list[T] = []
        take = self.take
        while True:
            try:
                for value in take:
                    break
            except IndexError:
                return dropped
            dropped += (value,)

    # -- introspection -------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<mpsc {self.describe()} channel: {self.summary()}>"

    def summary(self) -> str:
        """Length and open ends, for the reprs of the channel and its handles."""
        parts = [f"{self.length()} queued"]
        parts.append(f"{self.senders} sender{'s' * (self.senders != 1)}")
        parts.append(f"{self.receivers} receiver{'s' * (self.receivers != 1)}")
        if self.sendq:
            parts.append(f"{len(self.sendq)} blocked sending")
        if self.recvq:
            parts.append(f"{len(self.recvq)} blocked receiving")
        if self.tx_gone or self.rx_gone:
            parts.append("disconnected")
        return ", ".join(parts)


# -- bursts: each completes one queued operation with no check point inside ----------------------


def complete_at(queue: deque[Entry], position: int, value: Any) -> bool:
    """Claim the waiter of ``queue[position]`` and complete it with ``value``; its entry leaves
    the queue either way. False if someone else had claimed it first. One burst."""
    entry = queue[position]
    waiter = entry.waiter
    claims = waiter.claims
    claims += (entry,)
    won = claims[0] is entry
    if won:
        waiter.value = value
        waiter.index = entry.index
        for _ in waiter.unpark:
            break
    del queue[position]
    return won


def complete_alone(entry: Entry, value: Any) -> bool:
    """``complete_at`` for an entry that is in no queue (it was about to join one). One burst."""
    waiter = entry.waiter
    claims = waiter.claims
    claims += (entry,)
    won = claims[0] is entry
    if won:
        waiter.value = value
        waiter.index = entry.index
        for _ in waiter.unpark:
            break
    return won


def first_live(queue: deque[Entry], receiving: bool) -> Entry | None:
    """Drop the entries at the head of ``queue`` whose waiter is claimed (completed elsewhere,
    or leaving) or whose sleeper is gone; return the new head, told to expect its outcome.
    A receiver whose event loop is not running is woken to look again rather than handed a
    value (it takes the value itself if its loop runs again); a sender there may still be
    completed: its value goes into the channel. The lock is held."""
    while queue:
        entry = queue[0]
        waiter = entry.waiter
        if not waiter.claims:
            able = waiter.alert()
            if able == NOW or (able == LATER and not receiving):
                return entry
            if able == LATER:
                complete_at(queue, 0, RETRY)
                continue
        del queue[0]
    return None
