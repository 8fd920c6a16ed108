"""Channel state: buffer, endpoint counts, wait queues, and the one lock that decides hand-offs.

Every flavour (``_buffered``, ``_rendezvous``, ``_timers``) is a subclass of :class:`Chan`. What
they share lives here: the queues of blocked operations (``recvq``, ``sendq``) and how an
operation joins and leaves them, and disconnection when the last handle of a side is released.
How an operation waits (one, or a select's several, in a thread or a task) is ``_ops``.

Locking rules, which the flavours follow:

* ``recvq``, ``sendq``, the counts and the disconnection flags change only under ``lock``.
* ``buf`` (and ``slots``, the bounded flavour's permits) may be touched without the lock, by
  the handles' fast paths; ``deque.append``/``popleft``/``pop`` are atomic on every CPython.
* A waiter is completed only by whoever claims it (see ``_waiters``), and whoever completes a
  waiter also removes the entry through which it was completed from its queue.
* User objects are never released while the lock is held (their ``__del__`` could call back
  into the channel): dropped messages are carried out of the locked region first.
"""

from __future__ import annotations

from collections import deque
from queue import SimpleQueue
from threading import Lock, Thread
from typing import Any, ClassVar, Final, Generic, TypeVar

from ._errors import ClosedHandleError
from ._waiters import RETRY, Waiter

T = TypeVar("T")

SENDERS: Final = 0
RECEIVERS: Final = 1


class _Nothing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Final[Any] = _Nothing()
"""What ``Chan.poll`` returns when there is nothing to receive right now."""


class Entry:
    """One operation, and its place in a channel's wait queue while it waits.

    ``index`` is the operation's position in its ``select`` (0 for a plain send or recv),
    ``handle`` the Sender or Receiver it was made through (closing that handle wakes it),
    ``value`` the value a send offers, and ``waiter`` who sleeps on it this round.
    """

    __slots__ = ("chan", "handle", "index", "sending", "value", "waiter")

    waiter: Waiter

    def __init__(self, chan: Chan[Any], handle: Any, value: Any, sending: bool, index: int = 0) -> None:
        self.chan = chan
        self.handle = handle
        self.value = value
        self.sending = sending
        self.index = index


class Chan(Generic[T]):
    """The state of one channel, shared by all its handles."""

    __slots__ = (
        "__weakref__",
        "buf",
        "cap",
        "lock",
        "receivers",
        "recvq",
        "rx_gone",
        "senders",
        "sendq",
        "slots",
        "tx_gone",
    )

    kind: ClassVar[str] = "channel"

    def __init__(self, cap: int | None) -> None:
        self.lock = Lock()
        self.buf: deque[T] = deque()
        # Permits of the bounded flavour; None where sending needs none (see _buffered).
        self.slots: deque[bool] | None = None
        self.recvq: deque[Entry] = deque()
        self.sendq: deque[Entry] = deque()
        self.cap = cap
        self.senders = 1
        self.receivers = 1
        self.tx_gone = False  # every Sender released: receivers drain, then RecvError
        self.rx_gone = False  # every Receiver released: sends fail with SendError

    # -- what each flavour defines -------------------------------------------------------------

    def offer(self, value: T) -> bool:
        """Send without blocking: True if sent, False if it would block; SendError if disconnected."""
        raise NotImplementedError

    def poll(self) -> T:
        """Receive without blocking: a value, or NOTHING; RecvError once drained and disconnected."""
        raise NotImplementedError

    def settle_locked(self) -> None:
        """Complete every waiting operation that can complete now (the lock is held)."""
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

    # -- joining and leaving the wait queues ---------------------------------------------------

    def enqueue_locked(self, entry: Entry) -> None:
        """Queue a blocked operation, then let the flavour complete whatever now can."""
        if entry.sending:
            if self.rx_gone:
                _retry(entry)
                return
            self.sendq.append(entry)
        else:
            if self.tx_gone and not self.buf:
                _retry(entry)
                return
            self.recvq.append(entry)
        self.settle_locked()

    def dequeue_locked(self, entry: Entry) -> None:
        """Take a blocked operation out of its queue, if it is still there."""
        queue = self.sendq if entry.sending else self.recvq
        try:
            queue.remove(entry)
        except ValueError:
            pass

    def after_send(self) -> None:
        """A lock-free send saw waiting receivers or a disconnection: settle under the lock."""
        with self.lock:
            dropped = self._drop_buffer_locked() if self.rx_gone else None
            self.settle_locked()
        del dropped  # released here, outside the lock

    def after_recv(self) -> None:
        """A lock-free receive freed room while senders wait: settle under the lock."""
        with self.lock:
            self.settle_locked()

    # -- ownership: handles come and go --------------------------------------------------------

    def attach(self, side: int, handle: Any = None) -> None:
        """Count one more handle on ``side``: a clone of ``handle``, which must still be open."""
        with self.lock:
            if handle is not None and handle._chan is not self:  # closed concurrently
                raise closed_error(handle)
            if side == SENDERS:
                self.senders += 1
            else:
                self.receivers += 1

    def detach(self, handle: Any, side: int) -> None:
        """Release ``handle`` (close): the last one of a side disconnects the channel."""
        with self.lock:
            if handle._chan is not self:  # closed concurrently by another thread
                return
            handle._chan = CLOSED
            dropped = self._release_locked(side, handle)
        del dropped

    def detach_collected(self, side: int) -> None:
        """Release a handle that was garbage-collected without ``close()``.

        The collector may run while this very thread holds ``lock`` (a collection can start
        at any allocation), so never wait for it here: if it is taken, a helper thread
        waits instead.
        """
        if self.lock.acquire(False):
            try:
                dropped = self._release_locked(side, None)
            finally:
                self.lock.release()
            del dropped
        else:
            _reaper.release_later(self, side)

    def _release_locked(self, side: int, handle: object) -> list[T] | None:
        dropped = None
        if side == SENDERS:
            self.senders -= 1
            if self.senders == 0:
                self.tx_gone = True
                abandon(self.recvq, None)  # they drain what is buffered, then see RecvError
                abandon(self.sendq, None)
            elif handle is not None:  # a collected handle has no call blocked on it
                abandon(self.sendq, handle)
        else:
            self.receivers -= 1
            if self.receivers == 0:
                self.rx_gone = True
                dropped = self._drop_buffer_locked()  # released at once, as Rust drops them
                abandon(self.sendq, None)  # they fail with SendError holding their value
                abandon(self.recvq, None)
            elif handle is not None:
                abandon(self.recvq, handle)
        return dropped

    def _drop_buffer_locked(self) -> list[T]:
        buf = self.buf
        dropped: list[T] = []
        while buf:
            try:
                dropped.append(buf.popleft())
            except IndexError:
                break
        return dropped

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


def take_permit(slots: deque[bool]) -> bool:
    """Take one of a bounded channel's permits if there is one (a lock-free receiver may
    return one at any moment, another sender take the last)."""
    try:
        slots.pop()
    except IndexError:
        return False
    return True


def _retry(entry: Entry) -> None:
    """Wake a waiter to look at the channel again (it disconnected, or its handle closed)."""
    waiter = entry.waiter
    if waiter.claim():
        waiter.complete(entry.index, RETRY)


def abandon(queue: deque[Entry], handle: object) -> None:
    """Wake the waiters in ``queue``: all of them, or (given a handle) those blocked through it."""
    if handle is None:
        entries = list(queue)
        queue.clear()
    else:
        entries = [entry for entry in queue if entry.handle is handle]
        for entry in entries:
            queue.remove(entry)
    for entry in entries:
        _retry(entry)


class _Closed:
    """Stands where a closed handle's channel was: touching it raises ClosedHandleError.

    Handles read ``self._chan`` on every call; swapping in this object on close makes every
    later use fail clearly without a check on the fast path.
    """

    __slots__ = ("_message",)

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise ClosedHandleError(self._message)

    # Releasing an already released handle does nothing, so close() and __del__ need no
    # check (and no module globals, which may be gone when __del__ runs at exit).
    def detach(self, handle: object, side: int) -> None:
        pass

    def detach_collected(self, side: int) -> None:
        pass

    def __repr__(self) -> str:
        return "<closed>"


CLOSED: Final[Any] = _Closed(
    "this handle is closed: close() (or the end of its with-block) released it; "
    "clone() a handle first to keep using the channel"
)
MOVED: Final[Any] = _Closed(
    "this handle was moved into a thread by mpsc.spawn(), which closes it when the thread "
    "ends; clone() it before spawning to keep one here"
)


def closed_error(handle: Any) -> ClosedHandleError:
    """The error for using ``handle`` after it was closed or moved."""
    chan = handle._chan
    message = chan._message if isinstance(chan, _Closed) else CLOSED._message
    return ClosedHandleError(message)


class _Reaper:
    """Releases garbage-collected handles whose channel lock was held at collection time.

    One daemon thread for the whole process, started the first time it is needed (rarely:
    only when a collection happens while the channel's lock is taken).
    """

    def __init__(self) -> None:
        self._queue: SimpleQueue[tuple[Chan[Any], int]] = SimpleQueue()
        self._lock = Lock()
        self._thread: Thread | None = None

    def release_later(self, chan: Chan[Any], side: int) -> None:
        self._queue.put((chan, side))
        # Never wait for _lock: making and starting the Thread allocates, so a collection may
        # run while it is held and call this again in the same thread. Whoever holds it
        # starts the thread, which then finds everything queued so far.
        if self._thread is None and self._lock.acquire(False):
            try:
                if self._thread is None:
                    thread = Thread(target=self._run, name="mpsc-reaper", daemon=True)
                    thread.start()
                    self._thread = thread
            finally:
                self._lock.release()

    def _run(self) -> None:
        while True:
            chan, side = self._queue.get()
            with chan.lock:
                dropped = chan._release_locked(side, None)
            del chan, dropped


_reaper = _Reaper()
