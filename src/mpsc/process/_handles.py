"""Sender and Receiver of a process channel: the thread channels' API over file descriptors.

Who holds which fd (per process; the kernel counts the copies across processes):

* a **Sender** holds the data socket's send end, and on a bounded channel both ends of the
  credit pipe (the read end to take a credit before sending, the write end to give back one it
  took but could not use);
* a **Receiver** holds the data socket's receive end, and on a bounded channel the credit
  pipe's write end (to give a credit back for each message it takes) and a read end it never
  reads (so the pipe has a reader while a Receiver lives: a credit given back after the last
  Sender went cannot raise SIGPIPE, which kills a program that set it to ``SIG_DFL``);
* on a rendezvous channel, both sides hold both ends of the pipe of hints that receivers are
  waiting (see ``_rendezvous``).

No Receiver holds the send end and no Sender the receive end, so the kernel reports the
disconnections: when the last send end anywhere is closed (closed, collected, its process exited
or was killed), the receive end reads what is queued and then end-of-stream (``RecvError``);
when the last receive end is closed, the kernel drops what was queued and the send end fails
with EPIPE/ECONNRESET and reports a hang-up (``SendError``, carrying the value).

Every blocking call is a loop of three steps, kept apart so that ``mpsc.select`` (``_select``:
the attempt is ``try_recv``/``try_send``) and ``loop.add_reader`` for the async methods can
reuse the first two:

1. *a non-blocking attempt*: for a receive, ``_wire.Taking.take`` then ``_wire.settle`` (a
   value; ``NOTHING`` when no datagram is there or it was a withdrawn offer; ``RecvError`` at
   end of stream); for a buffered send, ``_try_put`` (None once sent, else the fds to wait on;
   ``SendError`` when every receiver is gone);
2. *a wait for fd readiness*: ``_waiting.wait_ready`` on those fds — for a receive, the receive
   end readable; for a send, the credit pipe readable or the send end hung up (no credit), or
   the send end writable (the kernel's buffer full) — bounded by the deadline, interruptible by
   Ctrl-C, and at most a slice long, so a handle closed by another thread is noticed;
3. *a retry*, after checking the deadline and that the handle is still open.

A rendezvous send is a small state machine instead (an offer is out, then claimed or
withdrawn: ``_rendezvous``); in a select it is ``try_send``'s: an offer made only to a receiver
that waits, withdrawn unless that receiver claims it.

The async methods (``send_async``, ``recv_async``) are the same loops with step 2 an ``await``
of ``_async.ready`` (the loop's ``add_reader``/``add_writer`` on the same fds) and no deadline
(``asyncio.timeout`` cancels instead). A cancellation can land only at that await, where the
records say what the call holds: a receive holds nothing but its rendezvous hint (a message is
taken and settled with no await in between); a bounded send may hold a credit (given back); a
rendezvous send may have an offer out, which is withdrawn — and if the withdrawal finds it
claimed, the send happened: it returns and the cancellation is delivered again at the task's
next await (``_async.redeliver``), as on thread channels. The same except-paths as the blocking
calls' handle every other exception.

Interrupts (DESIGN §4.7): each call keeps its progress in a ``_Sending`` or ``_Receiving``
(and ``_wire.Taking``) record whose fields are stored with no check point after the system
call that sets them, so when an exception lands anywhere — Ctrl-C, a signal handler's — the
call knows whether it happened. If not, it cleans up (an unused credit given back, fds closed,
the endpoint left) and the exception propagates: the channel is as if the call never ran. If it
did, it finishes (a taken message is unpickled) and returns its result, and the exception is
raised right after (``mpsc._interrupts.finish``).

Bounds: a bounded channel's credit pipe holds one byte per free slot (``capacity`` bytes at
the start). A sender takes a byte before it sends and a receiver writes one back after it took
a message, so at most ``capacity`` messages are ever in the socket; a pipe read is atomic, so
senders in any number of processes never share a credit. Each call counts a credit in the
channel's ledger before it may take one and uncounts it once the credit is back or sent
(``_Sending.held``, ``_wire.Taking.held``), so that a credit a process held when it was killed
comes back (``_ledger``: a send that finds none free, a receive that waited a slice for nothing,
and ``len()`` give them back once the channel is empty). Capacity 0 is a rendezvous
(``_rendezvous``).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from time import monotonic
from typing import Any, ClassVar, Final, Generic, NoReturn, Self, TypeVar, cast

from .._deadlines import checked_deadline, deadline_after, expired
from .._errors import ClosedHandleError, Empty, Full, RecvError, SendError, Timeout
from .._interrupts import complete, finish, nothing
from .._ops import trio_yield
from .._ownership import Scoped
from .._waiters import SPIN, SPINNING
from . import _endpoint, _rendezvous, _travel, _wire
from ._async import TRIO, cancelling, is_cancellation, ready, redeliver, refuse_in_event_loop, running_loop
from ._endpoint import RECEIVER, SENDER, Endpoint, Use
from ._rings import BUSY, LOOK_EVERY, MARKED_WHEN_FULL, may_wait
from ._waiting import READABLE, WRITABLE, hung_up, pipe_bytes, wait_ready

T = TypeVar("T")
R = TypeVar("R")

NOTHING: Final[Any] = _wire.NOTHING
_GONE: Final = (BrokenPipeError, ConnectionResetError)


class _Handle(Scoped, Generic[T]):
    """What Sender and Receiver share: ownership, introspection, pickling, repr."""

    __slots__ = ("__weakref__", "_ep")
    _ep: Endpoint | None
    _side: ClassVar[str]

    def __init__(self, *args: object) -> None:
        raise TypeError(
            f"mpsc.process {type(self).__name__} handles are made by mpsc.process.channel() "
            "and the other constructors"
        )

    def _open(self) -> Endpoint:
        endpoint: Endpoint | None = self._ep
        if endpoint is None:
            raise ClosedHandleError(
                "this handle is closed: close() (or the end of its with-block) released it; "
                "clone() a handle first to keep using the channel"
            )
        return endpoint

    _check_open = _open

    def _moved(self) -> Self:
        endpoint = self._open()
        moved: Any = object.__new__(type(self))
        moved._ep = None
        try:
            with endpoint.lock:
                if self._ep is not endpoint or endpoint.closed:
                    raise ClosedHandleError(endpoint.released_by or "this handle is closed")
                moved._ep, self._ep = endpoint, None  # (one step: no check point between)
        except BaseException:
            if moved._ep is endpoint:  # moved, then interrupted as the lock was let go: undone
                self._ep, moved._ep = endpoint, None
            raise
        return moved  # type: ignore[no-any-return]

    def _unmoved(self, moved: Self) -> None:
        self._ep, moved._ep = moved._ep, None

    def _still_open(self, endpoint: Endpoint) -> None:
        """After a wait: raise if this handle was closed (in another thread) meanwhile."""
        if self._ep is not endpoint or endpoint.closed:
            self._open()
            raise ClosedHandleError(endpoint.released_by or "this handle's side of the channel was closed")

    def close(self) -> None:
        """Release this handle. Idempotent; other clones stay open.

        The handle's file descriptors are closed with the last clone in this process (once no
        call through them is in progress). Releasing the last Sender anywhere lets receivers
        drain what was sent and then see ``RecvError``; releasing the last Receiver anywhere
        drops what is queued and makes every send fail with ``SendError``. A call blocked on
        this very handle in another thread raises ``ClosedHandleError`` (within 0.1 s).
        """
        endpoint: Endpoint | None = self._ep
        if endpoint is not None:
            endpoint.drop(self)

    def clone(self) -> Self:
        """Another owner of the same side of the same channel; close each one.

        Clones in one process share the file descriptors (counted here); the kernel counts the
        processes.

        Returns:
            A new handle of the same class.

        Raises:
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        return self._open().new_handle(type(self))

    @property
    def capacity(self) -> int | None:
        """The bound given at construction (0 for rendezvous); None when unbounded.

        Raises:
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        return self._open().capacity

    def _buffered(self) -> int:
        endpoint = self._open()
        cap = endpoint.capacity
        if cap is None:
            raise TypeError(
                "an unbounded mpsc.process channel cannot say how many messages it holds "
                "(the kernel counts bytes, not messages)"
            )
        if cap == 0:
            return 0
        buffered = cap - endpoint.using(pipe_bytes, endpoint.credit_w)
        if buffered > 0 and endpoint.using(_recover, endpoint):  # slots killed processes held
            buffered = cap - endpoint.using(pipe_bytes, endpoint.credit_w)
        return max(0, buffered)

    def is_disconnected(self) -> bool:
        """Whether every handle of the other side is gone (for a Receiver: every Sender, though
        messages may still be queued; for a Sender: every Receiver, so no send can succeed).

        Raises:
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        endpoint = self._open()
        return endpoint.using(_hung_up, endpoint)

    def __len__(self) -> int:
        """On a bounded channel, the capacity minus the free slots now: the messages queued,
        plus those a sender or receiver is moving right now (0 on a rendezvous channel).
        ``TypeError`` on an unbounded channel, whose kernel buffer counts bytes."""
        return self._buffered()

    def __bool__(self) -> bool:
        # A handle is an object, not a container: ``if tx:`` must not mean "if tx is non-empty".
        return True

    def is_empty(self) -> bool:
        """Whether ``len()`` is 0 now (bounded channels only, as ``len``).

        Raises:
            TypeError: The channel is unbounded.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        return self._buffered() == 0

    def is_full(self) -> bool:
        """Whether no slot is free now (bounded channels only, as ``len``; always true on a
        rendezvous channel, where a send waits for a receiver).

        Raises:
            TypeError: The channel is unbounded.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        cap = self._open().capacity
        return self._buffered() >= (cap or 0)

    def same_channel(self, other: _Handle[Any]) -> bool:
        """Whether ``other`` (a Sender or a Receiver) is a handle of the same channel.

        Args:
            other: A Sender or a Receiver of a process channel.

        Raises:
            TypeError: ``other`` is not a process-channel handle.
            ClosedHandleError: This handle or ``other`` was closed.
        """
        if not isinstance(other, _Handle):
            raise TypeError(f"same_channel() needs an mpsc.process handle, not {type(other).__name__}")
        return self._open().chan_id == other._open().chan_id

    def _select_source(self, sending: bool, index: int) -> Any:
        """This handle as operation ``index`` of an ``mpsc.select`` (``mpsc.process._select``):
        a receive for a Receiver, a send for a Sender in a ``(Sender, value)`` pair."""
        from ._select import Source

        if sending != (self._side == SENDER):
            if sending:
                raise TypeError(f"operation {index}: a Receiver cannot send")
            raise TypeError(f"operation {index}: a send is a (Sender, value) pair, not a bare Sender")
        self._open()
        return Source(cast("Receiver[Any] | Sender[Any]", self), sending)

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # At interpreter exit the process is about to close every fd anyway.
        try:
            if _finalizing():
                return
            endpoint = self._ep
            if endpoint is not None:
                endpoint.drop_collected(self)
        except AttributeError:  # never given an endpoint
            return
        except BaseException as exc:
            # An interrupt in the finalizer (wherever it landed, from the check point after
            # _finalizing() on): the reaper finishes the release (if it was not done), and the
            # exception is raised after the finalizer, not reported and dropped. Recorded first
            # with no check point (a slot's read, a dict's store: review 13/04), so that another
            # interrupt landing later leaves it recorded.
            landed = exc
            try:
                _endpoint._reaper.pending[self] = self._ep
            except AttributeError:  # never given an endpoint: nothing to release
                pass
            try:
                _endpoint._reaper.wake()
            except BaseException as again:
                landed = complete(_endpoint._Reaper.wake, _endpoint._reaper, again)
            finish(None, nothing, None, landed)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _travel.reduce_handle(self)

    def __copy__(self) -> NoReturn:
        raise TypeError(f"an mpsc.process {type(self).__name__} cannot be copied; use clone()")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError(f"an mpsc.process {type(self).__name__} cannot be copied; use clone()")

    def __repr__(self) -> str:
        name = type(self).__name__
        endpoint: Endpoint | None = self._ep
        if endpoint is None:
            return f"<mpsc.process.{name} (closed)>"
        if endpoint.closed:
            return f"<mpsc.process.{name} (released)>"
        return f"<mpsc.process.{name} of {endpoint.describe()}>"


class _Sending(Use):
    """One send's progress, recorded so that an exception landing anywhere can be answered
    exactly: ``out`` (the datagram is in the socket; for a rendezvous, the offer's ``out`` and
    ``outcome``) says whether the send happened, ``credit`` whether it holds a credit."""

    __slots__ = ("credit", "credit_back", "endpoint", "held", "hint", "message", "offer", "out", "room")

    def __init__(self, endpoint: Endpoint) -> None:
        self.inside = False
        self.endpoint = endpoint
        self.message: _wire.Outgoing | None = None
        self.offer: _rendezvous.Offer | None = None
        self.out = 0
        self.hint = b""  # a waiting receiver's hint, taken by a rendezvous try_send
        self.credit: bytes | bool = endpoint.credit_r < 0 or endpoint.capacity == 0
        self.credit_back: int | bool = False
        self.held = False  # the credit is counted in the ledger (from before it is taken)
        self.room = False  # counted among its ring's senders that wait for room (_try_push)

    def decide(self) -> None:
        """After an exception: an offer that is out and undecided is withdrawn now (or found
        claimed). Restartable."""
        offer = self.offer
        if offer is not None and offer.out:
            offer.withdraw()

    def happened(self) -> bool:
        """Whether the value was sent (buffered) or claimed (rendezvous)."""
        offer = self.offer
        return bool(self.out) or (offer is not None and offer.claimed())

    def end(self) -> None:
        """Give back an unused credit, close what this send opened, leave the endpoint.
        Restartable, and each part is done once."""
        endpoint = self.endpoint
        if self.credit and endpoint.capacity and not self.out and not self.credit_back:
            try:
                for self.credit_back in map(os.write, (endpoint.credit_w,), (_wire.CREDIT,)):
                    break
            except (BrokenPipeError, BlockingIOError):  # no sender left? (a full pipe cannot be)
                self.credit_back = True
        ledger = endpoint.ledger
        if self.held and ledger is not None:  # (once the credit is back, or sent: see _ledger)
            ledger.release(self)
        if self.hint and not self.happened():
            # The receiver whose hint this took still waits: give it back. (Interrupted between
            # the write and the store, the restart writes it twice: one stale hint, a guide.)
            _rendezvous.hint(endpoint.credit_w)
            self.hint = b""
        offer, message = self.offer, self.message
        if offer is not None:
            if message is not None and offer.out and offer.outcome == _rendezvous.TOKEN:
                # Withdrawn for good: its datagram may stay in the socket until a receiver
                # reads past it, holding the memfd, so a large value's pages are freed now
                # (a receiver never reads the payload of a withdrawn offer).
                message.release_payload()
            offer.close()
        if message is not None and message.fds:
            message.close()
        if self.out and endpoint.ring is not None:
            endpoint.ring.wake(endpoint.fd)  # (twice if this is run again: a spare wake-up)
        self.waited_for_room()
        endpoint.leave(self)

    def waited_for_room(self) -> None:
        """Uncount it among its ring's senders that wait for room, taking the ROOMs sent
        (restartable: the count and the record change with no check point)."""
        if self.room:
            endpoint = self.endpoint
            ring = endpoint.ring
            for self.room in map(type(ring).room_end, (ring,), (endpoint.fd,)):
                break


class _Receiving(_wire.Taking):
    """One receive: its datagram's progress (``_wire.Taking``), its use of the endpoint, and
    its hint on a rendezvous channel."""

    __slots__ = ("endpoint", "hinted", "inside", "sleeping")

    def __init__(self, endpoint: Endpoint) -> None:
        self.credits = endpoint.credit_w if endpoint.capacity else -1
        self.ledger = endpoint.ledger
        self.held = False
        self.raw = None
        self.inside = False
        self.endpoint = endpoint
        self.hinted = False
        self.sleeping = False  # counted in its ring's sleepers (see announce)

    def announce(self) -> None:
        """About to wait on a ring channel's socket: count this receive among the ring's
        sleepers, so that senders wake it (it must look at the ring again before it waits)."""
        ring = self.endpoint.ring
        if ring is not None and not self.sleeping:
            for self.sleeping in map(type(ring).sleep_begin, (ring,)):
                break

    def woken(self) -> None:
        """Uncount it (restartable: the count and the record change with no check point)."""
        if self.sleeping:
            ring = self.endpoint.ring
            for self.sleeping in map(type(ring).sleep_end, (ring,)):
                break

    def end(self) -> None:
        """Close what the message taken left (fds of one that ended unreadable, a carried
        handle's half-made adoption), uncount its credit (written back by now, or never to be),
        take back the hint this receive left (unless a try_send took it), leave the endpoint.
        Restartable."""
        if self.raw is not None and (self.adopted or self.fds):
            self.close()
        self.woken()
        endpoint = self.endpoint
        if self.held:
            self.ledger.release(self)
        if self.hinted:
            _rendezvous.take_hint_back(self, endpoint.credit_r)
        endpoint.leave(self)


def _recover(endpoint: Endpoint) -> int:
    """Give back the slots that processes killed mid-operation held, when that is sure now
    (bounded channels; see ``_ledger``); how many."""
    ledger = endpoint.ledger
    return 0 if ledger is None else ledger.recover(endpoint)


def _hung_up(endpoint: Endpoint) -> bool:
    return hung_up(endpoint.sock.fileno())


def _try_take(call: _Receiving) -> bool:
    """The non-blocking attempt of a receive: whether a message was taken (its value in
    ``call.value``). False when there is none now (or only offers their senders withdrew);
    ``RecvError`` at end of stream, and whatever unpickling the message raised."""
    endpoint = call.endpoint
    sock = endpoint.sock
    ring = endpoint.ring
    while call.take(sock) if ring is None else call.take_from(ring, endpoint.fd):
        _wire.settle(call)
        if call.value is not NOTHING:
            if call.raw[0][0] & _wire.HINTED:
                # A try_send's offer, made after taking a waiting receiver's hint: ours (we
                # need not take it back), or another's, which waits on and gets one back.
                if call.hinted:
                    call.hinted = False
                else:
                    _rendezvous.hint(endpoint.credit_w)
            return True
    endpoint.ring_busy = call.busy  # (for a select's wait: see _select)
    return False


def _writable(sock: Any, full: BlockingIOError) -> list[tuple[int, int]]:
    """What to wait on when the kernel would not take a datagram: room in the socket's buffer,
    or, when too many fds are in flight (``_wire.Congested``), nothing: a short sleep."""
    return [] if isinstance(full, _wire.Congested) else [(sock.fileno(), WRITABLE)]


def _try_put(call: _Sending, value: Any) -> list[tuple[int, int]] | None:
    """The non-blocking attempt of a send on a buffered channel: take a credit (bounded) and
    send the datagram. None once sent (``call.out``); else the (fd, events) pairs to wait on
    before trying again. ``SendError`` if every receiver is gone. A credit taken and not used
    stays in ``call.credit`` for the next attempt (``_Sending.end`` gives it back)."""
    endpoint = call.endpoint
    sock = endpoint.sock
    ring = endpoint.ring
    if ring is not None:
        return _try_push(call, value, ring)
    if not call.credit:
        ledger = endpoint.ledger
        assert ledger is not None
        while True:
            # Counted before it is taken (see _ledger): a kill at any instant is accounted for.
            ledger.hold(call)
            try:
                for call.credit in map(os.read, (endpoint.credit_r,), (1,)):
                    break
            except BlockingIOError:
                pass
            if call.credit:
                break
            ledger.release(call)
            if hung_up(sock.fileno()):
                raise SendError(value)
            # No slot: if processes that died mid-operation held some, they come back now.
            if not ledger.recover(endpoint):
                # The send end becomes "readable" only when the last receiver goes (a hang-up).
                return [(endpoint.credit_r, READABLE), (sock.fileno(), READABLE)]
    message = call.message
    assert message is not None
    try:
        _wire.send(sock, message, call)
    except BlockingIOError as exc:  # the kernel's buffer is full
        return _writable(sock, exc)
    except _GONE:
        raise SendError(value) from None
    return None


def _ring_spin(ring: Any, deadline: float | None) -> bool:
    """Look at ``ring`` without the lock for up to ``SPIN`` seconds before a receive announces
    itself (then every push costs its sender a wake-up datagram): whether a record came. Not
    where this process may run on one CPU only (the sender could not run meanwhile)."""
    if not SPINNING:
        return False
    end = monotonic() + SPIN
    if deadline is not None and deadline < end:
        end = deadline
    while True:
        if ring.ready():
            return True
        if monotonic() >= end:
            return False


def _try_push(call: _Sending, value: Any, ring: Any) -> list[tuple[int, int]] | None:
    """``_try_put`` on a channel with a ring (``_rings``): a message with no fd is pushed as a
    record (with no room, a small one waits for a ROOM, a large one goes as below), any other
    sent as a marked datagram (in step with the ring); ``_Sending.end`` wakes a receiver that
    waits. The system calls that would tell a datagram's sender that every receiver is gone are
    not made: it asks the kernel when a receiver closed, and at least every ``LOOK_EVERY``
    seconds."""
    endpoint = call.endpoint
    epoch = ring.epoch
    now = monotonic()
    if epoch != endpoint.ring_epoch or now - endpoint.ring_looked >= LOOK_EVERY:
        if hung_up(endpoint.fd):
            raise SendError(value)
        endpoint.ring_epoch, endpoint.ring_looked = epoch, now
    call.waited_for_room()
    try:
        return _push_or_mark(call, value, ring, may_wait())
    except BUSY:  # the lock's holder does not run now (see _ring.c): a short sleep
        return []


def _push_or_mark(call: _Sending, value: Any, ring: Any, wait: bool) -> list[tuple[int, int]] | None:
    """The ring's part of ``_try_push`` (``wait``: whether its lock may be waited for)."""
    endpoint = call.endpoint
    message = call.message
    assert message is not None
    if not message.fds:
        for call.out in map(ring.push, (message.data,), (wait,)):
            break
        if call.out:
            return None
        if len(message.data) <= MARKED_WHEN_FULL:
            # No room: counted among the senders that wait for it (a receiver that frees room
            # sends them a ROOM on their end of the socket), then a look again (room freed
            # before the count came with no ROOM). The last receiver's going is a hang-up there.
            for call.room in map(type(ring).room_begin, (ring,)):
                break
            for call.out in map(ring.push, (message.data,), (wait,)):
                break
            return None if call.out else [(endpoint.fd, READABLE)]
    # Fds, or a large message with no room: a marked datagram.
    try:
        for call.out in map(ring.send_marked, (endpoint.fd,), (message.data,), (message.fds,), (wait,)):
            break
    except BlockingIOError as exc:  # the kernel's buffer is full
        return _writable(endpoint.sock, exc)
    except _GONE:
        raise SendError(value) from None
    except OSError as exc:
        if exc.errno == errno.ETOOMANYREFS:
            return []
        raise
    return None if call.out else []  # (no room for a marker: a short sleep, nothing tells when)


def _returned(result: R, step: Callable[[Any], object], call: Any, exc: BaseException, loop: Any) -> R:
    """An async operation happened, and ``exc`` landed after it had: finish ``step(call)`` and
    return ``result``. A cancellation is delivered again at the task's next await (as on thread
    channels); a closed coroutine's ``GeneratorExit`` needs nothing more; any other exception
    is raised right after the return (``_interrupts.finish``)."""
    if is_cancellation(exc):
        level = 0 if isinstance(exc, GeneratorExit) else cancelling()
        landed = complete(step, call, exc)
        if landed is exc:
            redeliver(loop, level)
            return result
        exc = landed  # (an interrupt landed while it finished: raised after the return)
    try:
        return finish(result, step, call, exc)
    except BaseException as again:  # as finish() started
        return finish(result, step, call, again)


def _finish_taken(endpoint: Endpoint, holder: list[Any], landed: BaseException | None, spent: bool) -> Any:
    """For the compiled receive (``_steps.c``), which took a datagram it does not settle itself
    (one carrying fds or flags, or one whose unpickling an interrupt cut short): settle it as
    ``Receiver._recv`` settles its own, and return the value (NOTHING for an offer its sender
    withdrew: no message). The datagram is in ``holder`` (one item), taken out as the first step;
    an exception landing before that leaves it there, and the caller calls again with it as
    ``landed``, which is then raised right after the value is returned. ``spent``: ``landed``
    came out of the value's own unpickling (one of its tries is spent), not from before the
    datagram was taken here. (On a bounded channel the caller gave the message's credit back
    and uncounted it.)"""
    call = _Receiving(endpoint)
    call.begin()
    call.credited = True
    if spent:  # (``landed`` landed in the value's own unpickling: one try is spent)
        call.interrupted, call.failures = landed, 1
    try:
        for call.raw in map(list.pop, (holder,)):
            break
        if landed is not None:
            raise landed
        _wire.settle(call)
        value = call.value
        call.end()  # (restartable, as settle is: an exception landing here finishes both)
    except BaseException as exc:  # (as Receiver._recv's; not taken yet: the caller calls again)
        if call.raw is not None and call.failures != _wire.UNREADABLE:
            try:
                exc = complete(_wire.settle, call, exc)
            except BaseException as again:  # as complete() started
                exc = complete(_wire.settle, call, again)
            if call.value is not NOTHING:
                taken = call.value
                try:
                    return finish(taken, _Receiving.end, call, exc)
                except BaseException as again:  # as finish() started
                    return finish(taken, _Receiving.end, call, again)
        try:
            exc = complete(_Receiving.end, call, exc)
        except BaseException as again:  # as complete() started
            exc = complete(_Receiving.end, call, again)
        try:
            raise exc
        finally:  # no cycle through this frame
            del exc, call
    return value


class Sender(_Handle[T]):
    """The sending half of a process channel. ``SyncSender`` is the same class."""

    __slots__ = ()
    _side = SENDER

    def send(self, value: T) -> None:
        """Send ``value``, waiting while a bounded channel is full (on a rendezvous channel,
        until a receiver has claimed it; on any channel, while the kernel's buffer is full).

        The value is pickled here: one that cannot be pickled raises and nothing is sent.

        Args:
            value: What to send; it must pickle.

        Raises:
            SendError: Every receiver is gone (also while this call waited); the value was not
                sent and is in the error's ``.value``.
            TypeError: ``value`` cannot be pickled (or ``pickle.PicklingError``); nothing was
                sent.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._send(value, None, False)

    def try_send(self, value: T) -> None:
        """Send ``value`` only if that needs no waiting.

        Raises ``Full`` (carrying ``value``) when a bounded channel has no free slot, or the
        kernel's buffer is full, or, on a rendezvous channel, no receiver is blocked in a
        receive (if one is, it waits for that receiver to claim the value: microseconds, at
        most 50 ms if it was just giving up). ``SendError`` when every receiver is gone.

        Args:
            value: What to send; it must pickle.

        Raises:
            Full: No free slot, a full kernel buffer, or (rendezvous) no receiver waiting; the
                value is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            TypeError: ``value`` cannot be pickled (or ``pickle.PicklingError``).
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        return self._send(value, None, True)

    def send_timeout(self, value: T, timeout: float) -> None:
        """Send ``value``, waiting at most ``timeout`` seconds; ``Timeout`` (carrying ``value``)
        if time runs out first, and the value was not sent.

        Args:
            value: What to send; it must pickle.
            timeout: Seconds, ``>= 0``; one too large for the clock waits forever.

        Raises:
            Timeout: Time ran out first; the value is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            TypeError: ``timeout`` is not a number, or ``value`` cannot be pickled.
            ValueError: ``timeout`` is negative or NaN.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._send(value, deadline_after(timeout), False)

    def send_deadline(self, value: T, deadline: float) -> None:
        """Send ``value``, waiting until the ``time.monotonic()`` instant ``deadline`` at the latest.

        Args:
            value: What to send; it must pickle.
            deadline: A ``time.monotonic()`` instant.

        Raises:
            Timeout: The deadline passed first; the value is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            TypeError: ``deadline`` is not a number, or ``value`` cannot be pickled.
            ValueError: ``deadline`` is NaN.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._send(value, checked_deadline(deadline), False)

    def _send(self, value: T, deadline: float | None, once: bool, pickled: bytes | None = None) -> None:
        # Whatever exception lands (Ctrl-C, a signal handler's), the send either did not happen
        # (it propagates) or happened (it is raised right after this returns): see _interrupts.
        # (``pickled``: the value's pickle, from a compiled step that handed the send on.)
        endpoint = self._open()
        call = _Sending(endpoint)
        try:
            endpoint.enter(call)
            message = call.message = _wire.Outgoing()
            _wire.encode(value, message, pickled)
            if endpoint.capacity == 0:
                self._offer(call, value, deadline, once)
            else:
                self._put(call, value, deadline, once)
        except BaseException as exc:
            try:
                exc = complete(_Sending.decide, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Sending.decide, call, landed)
            offer = call.offer
            if call.out or (offer is not None and offer.out and offer.outcome == b""):  # happened()
                try:
                    return finish(None, _Sending.end, call, exc)
                except BaseException as landed:  # as finish() started
                    return finish(None, _Sending.end, call, landed)
            try:
                exc = complete(_Sending.end, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Sending.end, call, landed)
            try:
                raise exc
            finally:  # no cycle through this frame: the handle is freed once the error is
                del exc, call
        try:
            call.end()
        except BaseException as exc:
            try:
                return finish(None, _Sending.end, call, exc)
            except BaseException as landed:  # as finish() started
                return finish(None, _Sending.end, call, landed)
        return None

    def _put(self, call: _Sending, value: T, deadline: float | None, once: bool) -> None:
        """A send on a buffered channel: attempts and waits until it is sent."""
        while True:
            waits = _try_put(call, value)
            if waits is None:
                return
            if once:
                raise Full(value)
            if expired(deadline):
                raise Timeout(value)
            refuse_in_event_loop("send_async")
            wait_ready(waits, deadline)
            self._still_open(call.endpoint)

    def _offer(self, call: _Sending, value: T, deadline: float | None, once: bool) -> None:
        """A send on a rendezvous channel: offers until one is claimed (see _rendezvous)."""
        endpoint = call.endpoint
        sock = endpoint.sock
        message = call.message
        assert message is not None
        give_up: type[Full | Timeout] = Timeout
        flags = 0
        if not once and not expired(deadline):
            # A rendezvous send waits for a receiver's claim, however soon it comes.
            refuse_in_event_loop("send_async")
        if once or expired(deadline):
            # try_send (or a send whose time is up already, as the thread channels' does): only
            # if a receiver is blocked in a receive now (it left a hint), and then for as long
            # as it takes that receiver to claim the value.
            if once:
                give_up = Full
            try:
                for call.hint in map(os.read, (endpoint.credit_r,), (1,)):  # (stored as read)
                    break
            except BlockingIOError:
                pass
            if not call.hint:
                if hung_up(sock.fileno()):
                    raise SendError(value)
                raise give_up(value)
            flags = _wire.HINTED
            deadline = monotonic() + _rendezvous.GRACE
        while True:
            offer = call.offer = _rendezvous.Offer()
            offer.open()
            while True:
                try:
                    _wire.send(sock, message, offer, offer.fds(), flags)
                    break
                except BlockingIOError as exc:
                    waits = _writable(sock, exc)
                except _GONE:
                    raise SendError(value) from None
                if once or expired(deadline):
                    raise give_up(value)
                wait_ready(waits, deadline)
                self._still_open(endpoint)
            # The offer is out: from here the outcome is whoever reads the token.
            offer.sent()
            while not offer.answered(deadline):
                if expired(deadline):
                    if offer.withdraw():
                        raise give_up(value)
                    return  # claimed as time ran out: sent
                self._still_open(endpoint)
            if not offer.withdraw():
                return  # claimed
            # Read and dropped unclaimed (its receiver died, or the last one went): again.
            offer.close()
            call.offer = None

    async def send_async(self, value: T) -> None:
        """``send`` for asyncio: awaits room (on a rendezvous channel, a receiver's claim), with
        no thread: the task awaits the channel's fds on its loop (``loop.add_reader``).

        Safe to cancel: either the value was sent (it returns, and the cancellation lands at
        the next await) or ``CancelledError`` is raised and the value was not sent (a slot it
        had taken is given back, an offer nobody claimed is withdrawn). Use
        ``asyncio.timeout()`` for a time limit (not ``asyncio.wait_for`` on Python 3.11, which
        drops a result that completes as it is cancelled). Under trio the same (a trio task's wait
        polls in a worker thread: see ``_async``).

        Args:
            value: What to send; it must pickle.

        Raises:
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            TypeError: ``value`` cannot be pickled.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the task was waiting.
            asyncio.CancelledError: The task was cancelled before the value was sent.
            RuntimeError: No asyncio or trio event loop is running.
        """
        await self._send_async(value, None)

    async def _send_async(self, value: T, pickled: bytes | None) -> None:
        # (``pickled``: the value's pickle, from a compiled step that handed the send on.)
        loop = running_loop()
        if loop is TRIO:  # trio's rule: every async operation is a checkpoint (see _ops.running_trio)
            await sys.modules["trio"].lowlevel.checkpoint_if_cancelled()
        endpoint = self._open()
        call = _Sending(endpoint)
        try:
            endpoint.enter(call)
            message = call.message = _wire.Outgoing()
            _wire.encode(value, message, pickled)
            if endpoint.capacity == 0:
                await self._offer_async(loop, call, value)
            else:
                while True:
                    waits = _try_put(call, value)
                    if waits is None:
                        break
                    # A credit taken stays in call.credit across the wait: a cancellation
                    # there gives it back (_Sending.end), as nothing was sent (call.out is 0).
                    await ready(loop, waits)
                    self._still_open(endpoint)
        except BaseException as exc:
            # As in _send: the send either did not happen (clean up, propagate) or happened
            # (an offer found claimed as it was withdrawn): then it returns.
            try:
                exc = complete(_Sending.decide, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Sending.decide, call, landed)
            offer = call.offer
            if call.out or (offer is not None and offer.out and offer.outcome == b""):  # happened()
                try:
                    return _returned(None, _Sending.end, call, exc, loop)
                except BaseException as landed:  # as _returned() started
                    return _returned(None, _Sending.end, call, landed, loop)
            try:
                exc = complete(_Sending.end, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Sending.end, call, landed)
            try:
                raise exc
            finally:  # no cycle through this frame: the handle is freed once the error is
                del exc, call
        try:
            call.end()
        except BaseException as exc:
            try:
                return finish(None, _Sending.end, call, exc)
            except BaseException as landed:  # as finish() started
                return finish(None, _Sending.end, call, landed)
        if loop is TRIO:
            return await trio_yield(sys.modules["trio"], None)
        return None

    async def _offer_async(self, loop: Any, call: _Sending, value: T) -> None:
        """``_offer`` for a task (no deadline, no try_send): offers until one is claimed. At
        each await the offer is either not out or out and undecided; a cancellation there
        withdraws it (``_Sending.decide``), and finding it claimed means the send happened."""
        endpoint = call.endpoint
        sock = endpoint.sock
        message = call.message
        assert message is not None
        while True:
            offer = call.offer = _rendezvous.Offer()
            offer.open()
            while True:
                try:
                    _wire.send(sock, message, offer, offer.fds())
                    break
                except BlockingIOError as exc:
                    waits = _writable(sock, exc)
                except _GONE:
                    raise SendError(value) from None
                await ready(loop, waits)
                self._still_open(endpoint)
            # The offer is out: from here the outcome is whoever reads the token.
            offer.sent()
            notice = [(offer.notice_r, READABLE)]
            while True:  # (not ``while <condition>``: see ``mpsc._ops.recorded``)
                if await ready(loop, notice):
                    break
                self._still_open(endpoint)
            if not offer.withdraw():
                return  # claimed
            # Read and dropped unclaimed (its receiver died, or the last one went): again.
            offer.close()
            call.offer = None


SyncSender = Sender
"""Rust's name for the sender of a ``sync_channel``; here the same class as
[`Sender`][mpsc.process.Sender]."""


class Receiver(_Handle[T]):
    """The receiving half of a process channel. Clones (in any processes) share the messages:
    each goes to exactly one of them."""

    __slots__ = ()
    _side = RECEIVER

    def recv(self) -> T:
        """Receive the next message, waiting for one.

        Messages sent before the last Sender went are still delivered; after that, raises
        ``RecvError``. A message that cannot be unpickled here is consumed and its error raised.

        Returns:
            The oldest message.

        Raises:
            RecvError: The channel is empty and every Sender is gone.
            Exception: Whatever unpickling the message raised (the message is consumed).
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._recv(None, False)

    def try_recv(self) -> T:
        """Receive a message that is there now, without waiting.

        Returns:
            The oldest message.

        Raises:
            Empty: No message is there now.
            RecvError: The channel is empty and every Sender is gone.
            Exception: Whatever unpickling the message raised (the message is consumed).
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        return self._recv(None, True)

    def recv_timeout(self, timeout: float) -> T:
        """Receive, waiting at most ``timeout`` seconds; ``Timeout`` if nothing came.

        A message already there is returned even with a timeout of 0.

        Args:
            timeout: Seconds, ``>= 0``; one too large for the clock waits forever.

        Returns:
            The oldest message.

        Raises:
            Timeout: Nothing came in time.
            RecvError: The channel is empty and every Sender is gone.
            TypeError: ``timeout`` is not a number.
            ValueError: ``timeout`` is negative or NaN.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._recv(deadline_after(timeout), False)

    def recv_deadline(self, deadline: float) -> T:
        """Receive, waiting until the ``time.monotonic()`` instant ``deadline`` at the latest.

        Args:
            deadline: A ``time.monotonic()`` instant.

        Returns:
            The oldest message.

        Raises:
            Timeout: Nothing came before the deadline.
            RecvError: The channel is empty and every Sender is gone.
            TypeError: ``deadline`` is not a number.
            ValueError: ``deadline`` is NaN.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the call was waiting.
            RuntimeError: Called inside a running asyncio event loop when it would have to
                wait: use the ``*_async`` method there.
        """
        return self._recv(checked_deadline(deadline), False)

    def _recv(self, deadline: float | None, once: bool) -> T:
        # The non-blocking attempt is Taking.take + settle (a value, NOTHING for a withdrawn
        # offer, or RecvError); whatever exception lands once a message was taken, its value
        # is returned and the exception raised right after (see _interrupts).
        endpoint = self._open()
        call = _Receiving(endpoint)
        try:
            endpoint.enter(call)
            sock = endpoint.sock
            while True:  # (not ``while <condition>``: see ``mpsc._ops.recorded``)
                if _try_take(call):
                    break
                if once:
                    raise Empty()
                if expired(deadline):
                    raise Timeout()
                refuse_in_event_loop("recv_async")
                if endpoint.capacity == 0 and not call.hinted:
                    call.hinted = _rendezvous.hint(endpoint.credit_w)
                if endpoint.ring is not None and not call.sleeping:
                    if _ring_spin(endpoint.ring, deadline):
                        continue  # (a record came without a wake-up: no sender paid for one)
                    call.announce()
                    continue  # (what was pushed before it counted came with no wake-up)
                if not wait_ready([(sock.fileno(), READABLE)], deadline):
                    _recover(endpoint)  # a slice with nothing: senders may be short of slots
                call.woken()
                self._still_open(endpoint)
        except BaseException as exc:
            if call.raw is not None and call.failures != _wire.UNREADABLE:  # taken (no call: not .failed)
                try:
                    exc = complete(_wire.settle, call, exc)
                except BaseException as landed:  # as complete() started
                    exc = complete(_wire.settle, call, landed)
                if call.value is not NOTHING:
                    taken: T = call.value
                    try:
                        return finish(taken, _Receiving.end, call, exc)
                    except BaseException as landed:  # as finish() started
                        return finish(taken, _Receiving.end, call, landed)
            try:
                exc = complete(_Receiving.end, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Receiving.end, call, landed)
            try:
                raise exc
            finally:  # no cycle through this frame: the handle is freed once the error is
                del exc, call
        value: T = call.value
        try:
            call.end()
        except BaseException as exc:
            try:
                return finish(value, _Receiving.end, call, exc)
            except BaseException as landed:  # as finish() started
                return finish(value, _Receiving.end, call, landed)
        return value

    def __iter__(self) -> Iterator[T]:
        """Iterate over messages as they arrive, until every Sender is gone and all are received."""
        return self

    def __next__(self) -> T:
        try:
            return self._recv(None, False)
        except RecvError as exc:
            if _wire.own_error(exc):  # a message's own error: the stream goes on
                raise
        raise StopIteration from None

    async def recv_async(self) -> T:
        """``recv`` for asyncio: awaits the next message, with no thread: the task awaits the
        socket on its loop (``loop.add_reader``); ``RecvError`` once none ever will come.

        Safe to cancel: either a message was received (it is returned, and the cancellation
        lands at the next await) or ``CancelledError`` is raised and nothing was taken. Use
        ``asyncio.timeout()`` for a time limit (not ``asyncio.wait_for`` on Python 3.11, which
        drops a result that completes as it is cancelled). Under trio the same (a trio task's wait
        polls in a worker thread: see ``_async``).

        Returns:
            The oldest message.

        Raises:
            RecvError: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or released by ``release_inherited``),
                also while the task was waiting.
            asyncio.CancelledError: The task was cancelled before a message was taken.
            RuntimeError: No asyncio or trio event loop is running.
        """
        loop = running_loop()
        if loop is TRIO:  # trio's rule: every async operation is a checkpoint (see _ops.running_trio)
            await sys.modules["trio"].lowlevel.checkpoint_if_cancelled()
        endpoint = self._open()
        call = _Receiving(endpoint)
        try:
            endpoint.enter(call)
            readable = [(endpoint.sock.fileno(), READABLE)]
            while True:  # (not ``while <condition>``: see ``mpsc._ops.recorded``)
                if _try_take(call):
                    break
                # Nothing is held across the await (a message is taken and settled with no
                # await in between): a cancellation there only takes back the hint, if any.
                if endpoint.capacity == 0 and not call.hinted:
                    call.hinted = _rendezvous.hint(endpoint.credit_w)
                if endpoint.ring is not None and not call.sleeping:
                    call.announce()
                    continue  # (what was pushed before it counted came with no wake-up)
                # (A ring's lock held by a process that does not run: a short sleep, then again.)
                if not await ready(loop, () if call.busy else readable):
                    _recover(endpoint)  # a slice with nothing: senders may be short of slots
                call.woken()
                self._still_open(endpoint)
        except BaseException as exc:
            if call.raw is not None and call.failures != _wire.UNREADABLE:  # taken (no call: not .failed)
                try:
                    exc = complete(_wire.settle, call, exc)
                except BaseException as landed:  # as complete() started
                    exc = complete(_wire.settle, call, landed)
                if call.value is not NOTHING:
                    taken: T = call.value
                    try:
                        return _returned(taken, _Receiving.end, call, exc, loop)
                    except BaseException as landed:  # as _returned() started
                        return _returned(taken, _Receiving.end, call, landed, loop)
            try:
                exc = complete(_Receiving.end, call, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(_Receiving.end, call, landed)
            try:
                raise exc
            finally:  # no cycle through this frame: the handle is freed once the error is
                del exc, call
        value: T = call.value
        try:
            call.end()
        except BaseException as exc:
            try:
                return finish(value, _Receiving.end, call, exc)
            except BaseException as landed:  # as finish() started
                return finish(value, _Receiving.end, call, landed)
        if loop is TRIO:
            return await trio_yield(sys.modules["trio"], value)
        return value

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for msg in rx``: messages as they arrive, until every Sender is gone."""
        return self

    async def __anext__(self) -> T:
        try:
            return await self.recv_async()
        except RecvError as exc:
            if _wire.own_error(exc):  # a message's own error: the stream goes on
                raise
        raise StopAsyncIteration from None

    def try_iter(self) -> Iterator[T]:
        """Iterate over the messages there now, without waiting; it ends at the first gap.

        Yields:
            The messages there now, oldest first.

        Raises:
            ClosedHandleError: This handle was closed (or released by ``release_inherited``).
        """
        while True:
            try:
                yield self._recv(None, True)
            except (Empty, RecvError) as exc:
                if _wire.own_error(exc):  # a message's own error: not the end
                    raise
                return
