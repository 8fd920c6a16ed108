"""One process's file descriptors for one side of one process channel, and who may close them.

Between processes the kernel counts the owners of a side: each process that holds a side holds
its own file descriptors, and the channel disconnects when the last copy anywhere is closed.
Within one process, clones of a handle share one :class:`Endpoint` (the same fds) and are
counted here, in Python; the fds are closed with the last handle.

An fd must not be closed while another thread of this process is using it: the number could be
reused by an unrelated ``open`` and the other thread would read or write the wrong file. So every
operation *enters* the endpoint (``busy += 1``) and *leaves* it, and the fds are closed only when
no handle is left and nobody is inside.

A handle collected by the garbage collector releases its endpoint from ``__del__``, which may run
while this very thread holds the endpoint's lock (a collection can start at any allocation, and a
reference can drop to zero anywhere). A finalizer therefore never waits for the lock: when it is
taken, the release is handed to a daemon *reaper* thread, started the first time it is needed.

Interrupts: counting a handle and giving it (or taking from it) the endpoint are one step with
no check point inside (attribute stores under the lock), as are entering and recording it; the
closing of the fds is restartable and is finished when an exception lands in it. So an
interrupt never leaves a count that no handle will release, nor fds open that nobody will close.

A forked child gets copies of every fd and of every endpoint object. The copies are live owners:
that is what fork means, and it is what makes handles given to a ``fork``-started
``multiprocessing.Process`` work. :func:`release_inherited` closes the ones a child does not
want. After a fork the child re-creates the endpoints' locks (a parent thread may have held one)
and forgets the parent threads' operations in progress (those threads do not exist there).
"""

from __future__ import annotations

import _socket
import os
import sys
import threading
import weakref
from collections.abc import Callable
from itertools import repeat
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from .._errors import ClosedHandleError
from .._interrupts import complete
from ._gil import NO_GIL as _NO_GIL

if TYPE_CHECKING:
    from ._ledger import Ledger

H = TypeVar("H")
R = TypeVar("R")

SENDER: Final = "Sender"
RECEIVER: Final = "Receiver"

_CLOSED_MESSAGE = (
    "this handle is closed: close() (or the end of its with-block) released it; "
    "clone() a handle first to keep using the channel"
)
_RELEASED_MESSAGE = "this handle's file descriptors were closed by mpsc.process.release_inherited()"


def close_fds(fds: list[int]) -> None:
    """Close every fd in ``fds`` and empty it. Restartable: each fd is popped and closed in one
    step of C code, so an exception landing between two leaves the rest in the list, and none
    is closed twice (a second close could hit an unrelated file that reused the number)."""
    if not fds:
        return
    for _ in map(os.close, map(list.pop, repeat(fds, len(fds)))):
        pass


_sockets: set[_socket.socket] = set()


class Inside(Protocol):
    """What records one operation's use of an endpoint (see :meth:`Endpoint.enter`)."""

    inside: bool


class Use:
    """One operation's use of an endpoint: whether it is inside (see :meth:`Endpoint.enter`)."""

    __slots__ = ("inside",)

    def __init__(self) -> None:
        self.inside = False


class Endpoint:
    """The fds of one side of one channel in this process, shared by that side's clones here.

    ``sock`` is this side's end of the data socket (SOCK_SEQPACKET). ``credit_r``/``credit_w``
    are the ends it holds (-1 where none) of a bounded channel's credit pipe, or of a
    rendezvous channel's pipe of hints that receivers are waiting. ``ledger`` is a bounded
    channel's table of who holds its credits (``_ledger``), its memfd one more fd of the side.
    """

    __slots__ = (
        "__weakref__",
        "busy",
        "capacity",
        "chan_id",
        "closed",
        "credit_r",
        "credit_w",
        "fd",
        "fds_closed",
        "handles",
        "ledger",
        "lock",
        "pipes",
        "released_by",
        "ring",
        "ring_busy",
        "ring_epoch",
        "ring_fd",
        "ring_looked",
        "side",
        "sock",
    )

    def __init__(
        self,
        side: str,
        capacity: int | None,
        chan_id: bytes,
        sock: _socket.socket,
        credit_r: int = -1,
        credit_w: int = -1,
        ledger: Ledger | None = None,
        owned: list[int] | None = None,
        ring: Any = None,
        ring_fd: int = -1,
    ) -> None:
        self.side = side
        self.capacity = capacity
        self.chan_id = chan_id
        self.sock = sock
        self.fd = sock.fileno()  # (read by the compiled steps, while ``closed`` is False)
        self.credit_r = credit_r
        self.credit_w = credit_w
        self.ledger = ledger
        ledger_fd = -1 if ledger is None else ledger.fd
        # An unbounded channel's shared-memory ring (``_rings``), its memfd one more fd.
        self.ring = ring
        self.ring_fd = ring_fd
        self.ring_epoch = -1  # (a Sender's last look at whether every receiver is gone)
        self.ring_looked = 0.0
        self.ring_busy = False  # (a receive's last take found the lock's holder not running)
        # To close: ``owned``, when given, is the list that holds exactly these (see
        # _travel.Adoption: the list itself changes hands, with nothing between).
        pipes = [fd for fd in (credit_r, credit_w, ledger_fd, ring_fd) if fd >= 0]
        self.pipes = pipes if owned is None else owned
        # Held here too until closed: a handle in a reference cycle is finalized in the same
        # collection as its socket, in no set order, and the socket's own finalizer would warn
        # "unclosed socket" (and close it) before the handle's released it properly.
        _sockets.add(sock)
        self.lock = threading.Lock()
        self.handles = 0
        self.busy = 0
        self.closed = False
        self.fds_closed = False
        self.released_by = ""
        _register(self)

    def fds(self) -> list[int]:
        """The fds this side holds, in a fixed order (the data socket first)."""
        ledger_fd = -1 if self.ledger is None else self.ledger.fd
        fds = (self.sock.fileno(), self.credit_r, self.credit_w, ledger_fd, self.ring_fd)
        return [fd for fd in fds if fd >= 0]

    if _NO_GIL:

        def enter(self, use: Inside) -> None:
            """Begin an operation: the fds stay open until the matching :meth:`leave`. ``use``
            records that it is inside (set with no check point after the count)."""
            with self.lock:
                if self.closed:
                    raise ClosedHandleError(self.released_by or _CLOSED_MESSAGE)
                self.busy += 1
                use.inside = True

        def leave(self, use: Inside) -> None:
            """End the operation ``use`` began; once only (restartable)."""
            with self.lock:
                if use.inside:
                    use.inside = False
                    self.busy -= 1
                if self.closed:
                    try:
                        self._settle_locked()
                    except BaseException as exc:  # (its start is inside this try too)
                        try:
                            exc = complete(Endpoint._settle_locked, self, exc)
                        except BaseException as landed:  # as complete() started
                            exc = complete(Endpoint._settle_locked, self, landed)
                        raise exc from None

    else:
        # Under the GIL another thread runs (and an interrupt lands) only at a check point, and
        # there is none from reading ``closed`` to storing ``inside`` (nor from the decrement
        # to reading ``closed`` in leave): the steps are as atomic as under the lock, which
        # every closing path holds, and a small send or receive saves two lock round trips.
        # (``busy`` is an int: its update allocates no tracked object, so starts no collection
        # whose finalizers could let another thread in.)

        def enter(self, use: Inside) -> None:
            """Begin an operation: the fds stay open until the matching :meth:`leave`. ``use``
            records that it is inside (set with no check point after the count)."""
            if self.closed:
                raise ClosedHandleError(self.released_by or _CLOSED_MESSAGE)
            self.busy += 1
            use.inside = True

        def leave(self, use: Inside) -> None:
            """End the operation ``use`` began; once only (restartable)."""
            if use.inside:
                use.inside = False
                self.busy -= 1
            if self.closed:
                with self.lock:
                    try:
                        self._settle_locked()
                    except BaseException as exc:  # (its start is inside this try too)
                        try:
                            exc = complete(Endpoint._settle_locked, self, exc)
                        except BaseException as landed:  # as complete() started
                            exc = complete(Endpoint._settle_locked, self, landed)
                        raise exc from None

    def using(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` between :meth:`enter` and :meth:`leave`, for a call that changes nothing
        it cannot drop (a query; a pickling whose fds its message owns): the endpoint is left
        whatever exception lands, even at the start of ``leave`` (then ``fn``'s result is
        dropped and the exception raised)."""
        use = Use()
        try:
            self.enter(use)
            result = fn(*args)
        except BaseException as exc:
            try:
                exc = complete(self.leave, use, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(self.leave, use, landed)
            raise exc
        try:
            self.leave(use)
        except BaseException as exc:
            try:
                exc = complete(self.leave, use, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(self.leave, use, landed)
            raise exc
        return result

    def new_handle(self, cls: type[H]) -> H:
        """A new handle of class ``cls`` (a Sender or Receiver) on this endpoint: one more owner.

        The handle is made first; counting it and giving it the endpoint are one step with no
        check point inside, so an interrupt leaves neither a count without a handle nor a
        handle without a count (the handle's finalizer releases what it holds).
        """
        handle: Any = object.__new__(cls)
        handle._ep = None
        with self.lock:
            if self.closed:
                raise ClosedHandleError(self.released_by or _CLOSED_MESSAGE)
            self.handles += 1
            handle._ep = self
        return handle  # type: ignore[no-any-return]

    def drop(self, handle: Any) -> None:
        """Release ``handle`` (its close): forgetting the endpoint and uncounting it are one
        step; the last handle closes the fds once nobody is inside. Idempotent."""
        with self.lock:
            if handle._ep is self:
                handle._ep = None
                self.handles -= 1
                try:
                    self._settle_locked()
                except BaseException as exc:  # (its start is inside this try too)
                    try:
                        exc = complete(Endpoint._settle_locked, self, exc)
                    except BaseException as landed:  # as complete() started
                        exc = complete(Endpoint._settle_locked, self, landed)
                    raise exc from None

    def drop_collected(self, handle: Any) -> None:
        """:meth:`drop` for a finalizer: never waits for the lock (see the module doc). The lock
        taken is recorded with no check point after the acquire, and let go whatever lands."""
        acquired = False
        try:
            for acquired in map(self.lock.acquire, (False,)):
                break
            if acquired and handle._ep is self:
                handle._ep = None
                self.handles -= 1
                self._settle_locked()
        except BaseException as exc:
            if acquired:  # (only in _settle_locked, or as it started)
                try:
                    exc = complete(Endpoint._settle_locked, self, exc)
                except BaseException as landed:  # as complete() started
                    exc = complete(Endpoint._settle_locked, self, landed)
                raise exc from None
            raise
        finally:
            if acquired:
                self.lock.release()
        if not acquired:
            _reaper.drop_later(self, handle)

    def _settle_locked(self) -> None:
        # Called inside a try whose except finishes it (``complete``): an exception landing as
        # it starts, or anywhere in it, leaves no side half-closed.
        # Closed for new operations once no handle is left (or release_inherited closed it);
        # the fds themselves once, besides, nobody is inside. Restartable: each fd is closed
        # once (a socket's close is idempotent), and only then is it marked done.
        if self.handles <= 0:
            self.closed = True
        if self.closed and self.busy <= 0 and not self.fds_closed:
            self.sock.close()
            _sockets.discard(self.sock)
            if self.ring is not None:
                if self.side == RECEIVER:  # senders that only push look at the kernel now
                    self.ring.bump_epoch()
                self.ring.close()
            close_fds(self.pipes)
            if self.ledger is not None:
                self.ledger.close()
            self.fds_closed = True

    def force_close(self, why: str) -> None:
        """Close the fds for every handle here (release_inherited): at once, or, if a call is
        using them, as it leaves."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.released_by = why
            try:
                self._settle_locked()
            except BaseException as exc:  # (its start is inside this try too)
                try:
                    exc = complete(Endpoint._settle_locked, self, exc)
                except BaseException as landed:  # as complete() started
                    exc = complete(Endpoint._settle_locked, self, landed)
                raise exc from None

    def describe(self) -> str:
        """The channel's kind and identity, for reprs."""
        cap = self.capacity
        kind = "unbounded" if cap is None else f"bounded({cap})"
        return f"{kind} process channel {self.chan_id.hex()}"


class _Reaper:
    """Drops handles whose finalizer found the endpoint's lock taken, or was interrupted (one
    daemon thread). A handle to drop is recorded in ``pending`` by a dict store, which has no
    check point: a finalizer's handler records it first, whatever lands after (review 13/04)."""

    def __init__(self) -> None:
        self.pending: dict[Any, Endpoint | None] = {}  # (it keeps each handle alive until then)
        self._wake: SimpleQueue[None] = SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def drop_later(self, endpoint: Endpoint, handle: Any) -> None:
        self.pending[handle] = endpoint
        self.wake()

    def wake(self) -> None:
        """Have the thread drop what is pending (started here if it is not running).
        Restartable: an interrupt between a start and its record starts a second thread, which
        drops what is pending as well."""
        self._wake.put(None)
        if self._running():
            return
        # Never wait for _lock here either: whoever holds it starts the thread, which then
        # finds everything pending so far. (Its acquire recorded with no check point after it.)
        acquired = False
        try:
            for acquired in map(self._lock.acquire, (False,)):
                break
            if acquired and not self._running():
                thread = threading.Thread(target=self._run, name="mpsc-process-reaper", daemon=True)
                thread.start()
                self._thread = thread
        finally:
            if acquired:
                self._lock.release()

    def _running(self) -> bool:
        # (Not alive: the parent's, in a forked child whose hook an interrupt stopped at its
        # very start; see _after_fork_in_child.)
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        while True:
            self._wake.get()
            while self.pending:
                # Forgotten only once dropped: a child forked meanwhile (from another thread)
                # finds it still pending and drops it itself (a drop is idempotent).
                handle = next(iter(self.pending))
                endpoint = self.pending[handle]
                try:
                    if endpoint is not None:
                        endpoint.drop(handle)
                except BaseException:  # (reported: the thread must live on for the next ones)
                    sys.excepthook(*sys.exc_info())
                self.pending.pop(handle, None)
                del handle, endpoint

    def after_fork_in_child(self) -> None:
        """The parent's thread is not in the child, but what it had pending is the child's to
        drop. Restartable (see ``_after_fork_in_child``)."""
        self._wake = SimpleQueue()
        self._lock = threading.Lock()
        self._thread = None
        if self.pending:
            self.wake()


_reaper = _Reaper()


_endpoints: weakref.WeakSet[Endpoint] = weakref.WeakSet()
_endpoints_lock = threading.Lock()


def _register(endpoint: Endpoint) -> None:
    with _endpoints_lock:
        _endpoints.add(endpoint)


def release_inherited(*keep: Any) -> int:
    """Close every process-channel handle this process holds, except the handles in ``keep``.

    Meant for a child started with ``fork`` (or by ``os.fork``), which inherits a live copy of
    every handle its parent held: until they are closed, that child keeps those channels
    connected (a receiver elsewhere sees no disconnection while it lives). Call it first thing
    in such a child — e.g. ``ProcessPoolExecutor(mp_context=fork_ctx,
    initializer=mpsc.process.release_inherited)`` — passing the handles it should keep. Handles
    closed this way raise ``ClosedHandleError`` when used.

    Args:
        *keep: The process-channel handles to keep open.

    Returns:
        How many sides it closed.

    Raises:
        TypeError: Something in ``keep`` is not a process-channel handle.
    """
    kept: set[int] = set()
    for handle in keep:
        endpoint = getattr(handle, "_ep", None)
        if not isinstance(endpoint, Endpoint):
            raise TypeError(f"release_inherited() keeps process-channel handles, not {type(handle).__name__}")
        kept.add(id(endpoint))
    with _endpoints_lock:
        endpoints = list(_endpoints)
    count = 0
    for endpoint in endpoints:
        if id(endpoint) not in kept and not endpoint.closed:
            endpoint.force_close(_RELEASED_MESSAGE)
            count += 1
    return count


class Closing(Protocol):
    """An operation's record that owns fds for its time (see :func:`carrying`)."""

    def close(self) -> None: ...


_carrying: weakref.WeakSet[Closing] = weakref.WeakSet()


def carrying(record: Closing) -> None:
    """Note that ``record`` (a message, or a received datagram) holds handles' fds while its
    operation runs: a child forked meanwhile from another thread gets copies that nobody there
    would close (the operation is the parent thread's), and they would keep those channels
    connected for the child's whole life. The child closes them as it starts (and those of
    :func:`noting`, before a message being sent is noted). (Only messages
    carrying handles are noted: a weakref's callback, where an interrupt is dropped, runs as
    each record goes. Other fds a fork copies mid-operation hold memory, or, for a rendezvous
    offer, are made harmless: see _rendezvous.)"""
    _carrying.add(record)


_noted: dict[int, list[int]] = {}
"""The lists of fds that messages being pickled collect (by the list's ``id``: the entry keeps
it alive, so no other list has that id meanwhile), noted before the first handle's fds are
duplicated into one: the message itself is noted (``carrying``) only once its pickling is done,
and a compiled send hands the datagram to the kernel with no message object at all. Each list
is forgotten once its message is noted or its fds are closed (``unnoting``, here and in
``_steps.c``); one an interrupt left behind is empty (whoever owns the fds closes them by
emptying the list), harmless in a child."""


def noting(fds: list[int]) -> None:
    """Note ``fds``, a list a message being pickled collects handles' fds into (see ``_noted``)."""
    _noted[id(fds)] = fds


def unnoting(fds: list[int]) -> None:
    """Forget ``fds`` (see ``_noted``): its message is noted itself, or its fds are closed."""
    _noted.pop(id(fds), None)


def _after_fork_in_child() -> None:
    # A signal may arrive as the child starts, and its handler's exception land anywhere here
    # (CPython then reports and drops it): the work is finished whatever lands, each step being
    # restartable, and the exception raised after it.
    try:
        _reset_in_child(None)
    except BaseException as exc:
        try:
            exc = complete(_reset_in_child, None, exc)
        except BaseException as landed:  # as complete() started
            exc = complete(_reset_in_child, None, landed)
        raise exc from None


def _reset_in_child(_: None) -> None:
    global _endpoints_lock
    # The locks first: closing a record may close a half-made endpoint (``_travel.Adoption``),
    # whose lock a parent thread may have held at the fork.
    for endpoint in list(_endpoints):
        endpoint.lock = threading.Lock()
    _endpoints_lock = threading.Lock()
    for record in list(_carrying):
        record.close()
    _carrying.clear()
    for fds in list(_noted.values()):  # (a message's list and its own are one list: closed once)
        close_fds(fds)
    _noted.clear()
    for endpoint in list(_endpoints):
        # Operations in progress were the parent's threads', which the child does not have (a
        # fork from inside an operation, in a signal handler, is not supported).
        endpoint.busy = 0
        endpoint._settle_locked()  # a close that waited for one of them happens now
    _reaper.after_fork_in_child()  # (the parent's pending drops are the child's too)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
