"""Sender and Receiver of a Redis channel: the thread channels' API over Redis Streams.

A **send** is one script (``_lua.SEND_FAST``, pre-encoded per lane): check the sender's own
lease and that a receiver is live, drop a retried send by its sequence number, check the
capacity (full: wait for a ``space`` token with ``BLPOP``, then try again), ``XADD``. When it
cannot conclude that the leases are live it does nothing and says 'slow': the full
``_lua.SEND`` then runs with the same sequence number (prunes the receivers' leases; none left:
``SendError``). Values
are pickled at the call; sequence numbers are reserved before each attempt, so a send whose
outcome is unknown (a lost reply) is retried with the same number and never applied twice, and
the next send is never mistaken for a retry. Concurrent sends through one handle use separate
*lanes* (sequence counters), so they never wait for one another.

A **receive** hands out entries this Receiver fetched (``_lua.RECV``: read up to ``BATCH``
new entries of the consumer group as this handle's consumer, one after a pause and twice as
many with each fetch; entries of dead receivers, and those given back, are claimed first). A
handle that has not received for ``IDLE`` gives back what it holds (``_lua.GIVE``, from the
lease thread), so that its peers get it. Entries stay pending on the server until
acknowledged -- after the receive returned, never before (a receiver that dies first loses
nothing: another receiver claims the entry): with the next fetch or at ``close()`` (one round
trip per batch), on a bounded channel by the lease thread ``ACK_DELAY`` after the return if no
fetch came first (the room appears then), on an unbounded one within a quarter lease.
Nothing there: wait with ``XREAD BLOCK`` on the stream and the ``ctl`` stream (woken by a
send, or by a side going), then fetch again.
"""

from __future__ import annotations

import functools
import itertools
import os
import pickle
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from operator import length_hint
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, NoReturn, Self, TypeVar

from .._deadlines import checked_deadline, deadline_after, expired
from .._errors import ChannelError, ClosedHandleError, Empty, Full, RecvError, SendError, Timeout
from .._interrupts import came_through, complete, finish
from . import _lua, _resp
from ._errors import ConnectionError, LeaseExpiredError
from ._keys import Keys
from ._leases import IDLE, Lease, evalsha, evalsha_with, fixed, renewer
from ._link import LARGE, Expired, Link, Packed, link, script, with_secrets
from ._steps import GRACE, Abandoned, Algorithm, Step, drive, drive_async, refuse_in_event_loop

T = TypeVar("T")

BATCH: Final = 100
"""Entries an unbounded channel's Receiver fetches per round trip."""
CHUNK: Final = 500
"""Values ``send_many`` puts in one script call (at most)."""
CHUNK_BYTES: Final = 4 * 1024 * 1024
"""Bytes of values ``send_many`` puts in one script call at most (at least one value)."""
OFFER: Final = 1.0
"""Seconds a rendezvous offer lives on the server past its post or its last extension (its
sender extends it every ``OFFER / 2`` while it waits; a timed one expires at its deadline at
the latest): a sender whose server went away knows by then that its value will not be taken."""
TRAVEL: Final = 30.0
"""Seconds a pickled handle's lease lasts until it is unpickled (it keeps its side alive)."""

_SEND: Final = script(_lua.SEND)
_SEND_FAST: Final = script(_lua.SEND_FAST)
_RECV: Final = script(_lua.RECV)
_ACK: Final = script(_lua.ACK)
_LEASE: Final = script(_lua.LEASE)
_PEEK: Final = script(_lua.PEEK)
_RV_SEND: Final = script(_lua.RV_SEND)
_RV_CHECK: Final = script(_lua.RV_CHECK)
_GIVE: Final = script(_lua.GIVE)


class EmptyAt(Empty):
    """``Empty`` from a Receiver's try, with where its stream and ``ctl`` stream were then
    (``marks``): a select's blocking read starts there (``_select``)."""

    def __init__(self, marks: tuple[bytes, bytes]) -> None:
        super().__init__()
        self.marks = marks


class _Channel:
    """What every handle of one channel in this process shares."""

    __slots__ = ("capacity", "keys", "link", "travel_secrets", "ttl")

    def __init__(
        self, link: Link, keys: Keys, capacity: int | None, ttl: float, travel_secrets: bool
    ) -> None:
        self.link = link
        self.keys = keys
        self.capacity = capacity
        self.ttl = ttl
        self.travel_secrets = travel_secrets


def _status(reply: list[Any]) -> bytes:
    return bytes(reply[1])


class _Handle(Generic[T]):
    """What Sender and Receiver share: ownership (leases), introspection, pickling."""

    __slots__ = ("__weakref__", "_chan", "_finalizer", "_lease")
    _side: ClassVar[str]
    _chan: _Channel
    _lease: Lease
    _finalizer: weakref.finalize[..., Any]

    def __init__(self, *args: object) -> None:
        raise TypeError(
            f"mpsc.redis {type(self).__name__} handles are made by mpsc.redis.channel() and bounded()"
        )

    @classmethod
    def _new(cls, chan: _Channel, lease: Lease) -> Self:
        self = object.__new__(cls)
        self._chan = chan
        self._lease = lease
        self._finalizer = weakref.finalize(self, renewer.collected, lease)
        self._finalizer.atexit = False
        self._setup()
        if not lease.lost:
            renewer.add(lease)
        return self

    def _setup(self) -> None:
        pass

    def _open(self) -> Lease:
        lease = self._lease
        if lease.closed:
            raise ClosedHandleError(
                "this handle is closed: close() (or the end of its with-block) released it; "
                "clone() a handle first to keep using the channel"
            )
        if lease.pid != os.getpid():
            raise ClosedHandleError(
                "this mpsc.redis handle was inherited through fork(); pickle a handle (or pass it to "
                "the child as a multiprocessing argument under spawn/forkserver) to use it there"
            )
        if lease.lost:
            raise LeaseExpiredError()
        return lease

    def _call(self, argv_script: Any, *argv: object, deadline: float | None = None) -> list[Any]:
        lease = self._lease
        reply: list[Any] = self._chan.link.call(fixed(evalsha(argv_script, lease.keys, *argv)), deadline)
        self._chan.link.saw(reply[0])
        return reply

    def close(self) -> None:
        """Release this handle: its lease ends at once on the server. Idempotent; other clones
        stay open. Releasing the last Sender lets receivers drain and then see ``RecvError``;
        releasing the last Receiver drops what is buffered and makes sends fail with
        ``SendError``; either is seen by the other side within a round trip. A server that
        cannot be reached is not an error here: the lease then expires by itself. An exception
        landing inside (Ctrl-C) does not leave the lease behind: once the handle is marked closed,
        the lease thread finishes an interrupted release within a quarter lease."""
        lease = self._lease
        if lease.done:
            return
        lease.release(2.0)
        self._finalizer.detach()

    def clone(self) -> Self:
        """Another owner of the same side (its own lease); close each one.

        Returns:
            A new handle of the same side.

        Raises:
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds.
        """
        lease = self._open()
        new = Lease(lease.link, lease.keys, lease.side, lease.ttl)
        try:
            reply = self._call(_LEASE, "clone", lease.side, lease.id, new.id)
        except Expired:  # pragma: no cover (no deadline given)
            raise ConnectionError() from None
        if _status(reply) == b"lost":
            self._open()  # (closed by another thread meanwhile: ClosedHandleError)
            lease.lost = True
            raise LeaseExpiredError()
        return type(self)._new(self._chan, new)

    @property
    def capacity(self) -> int | None:
        """The bound given at construction; None when unbounded."""
        return self._chan.capacity

    @property
    def name(self) -> str:
        """The channel's name: its stream's key on the server."""
        return self._chan.keys.name

    def _peek(self) -> tuple[int, int]:
        lease = self._open()
        if self._chan.capacity is not None:
            drive(self._chan.link, _ack_here(self._chan))
        reply = self._call(_PEEK, lease.side)
        if _status(reply) == b"lost":
            return 0, 0
        return int(reply[2]), int(reply[3])

    def __len__(self) -> int:
        """Entries in the channel on the server: queued, plus those receivers have fetched and
        not yet acknowledged (they count against a bound until then)."""
        return self._peek()[1]

    def __bool__(self) -> bool:
        return True

    def is_empty(self) -> bool:
        """Whether ``len()`` is 0 now."""
        return len(self) == 0

    def is_full(self) -> bool:
        """Whether a bounded channel has no room now (never, unbounded)."""
        cap = self._chan.capacity
        return cap is not None and len(self) >= cap

    def is_disconnected(self) -> bool:
        """Whether every handle of the other side is gone (closed, or its lease expired)."""
        return self._peek()[0] == 0

    def same_channel(self, other: _Handle[Any]) -> bool:
        """Whether ``other`` is a handle of the same channel (same server, same name)."""
        if not isinstance(other, _Handle):
            raise TypeError(f"same_channel() needs an mpsc.redis handle, not {type(other).__name__}")
        return self._chan.link.public == other._chan.link.public and self.name == other.name

    def __enter__(self) -> Self:
        self._open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        self._open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The pickled handle gets a lease of its own now (lasting TRAVEL seconds), so that the
        # side stays alive while it travels; unpickling takes that lease over.
        lease = self._open()
        chan = self._chan
        travel = Lease(lease.link, lease.keys, lease.side, lease.ttl)
        reply = self._call(_LEASE, "travel", lease.side, lease.id, travel.id, int(TRAVEL * 1000))
        if _status(reply) == b"lost":
            self._open()  # (closed by another thread meanwhile: ClosedHandleError)
            lease.lost = True
            raise LeaseExpiredError()
        noted = getattr(_pickling, "travels", None)
        if noted is not None:  # (a send of this process is pickling it: see _dumps_noting)
            noted.append(travel)
        url = chan.link.url if chan.travel_secrets else chan.link.public
        return (
            _rebuild,
            (type(self), url, chan.keys.name, chan.capacity, chan.ttl, chan.travel_secrets, travel.id),
        )

    def _select_source(self, sending: bool, index: int) -> Any:
        """This handle as operation ``index`` of an ``mpsc.select`` (``mpsc.redis._select``):
        a receive for a Receiver, a send for a Sender in a ``(Sender, value)`` pair."""
        from ._select import Source

        if sending != (self._side == "tx"):
            if sending:
                raise TypeError(f"operation {index}: a Receiver cannot send")
            raise TypeError(f"operation {index}: a send is a (Sender, value) pair, not a bare Sender")
        self._open()
        return Source(self, sending)  # type: ignore[arg-type]

    def __copy__(self) -> NoReturn:
        raise TypeError(f"an mpsc.redis {type(self).__name__} cannot be copied; use clone()")

    def __deepcopy__(self, memo: object) -> NoReturn:
        raise TypeError(f"an mpsc.redis {type(self).__name__} cannot be copied; use clone()")

    def __repr__(self) -> str:
        state = "closed" if self._lease.closed else "lost" if self._lease.lost else "open"
        return f"<mpsc.redis.{type(self).__name__} {self.name!r} at {self._chan.link.public} ({state})>"


def _rebuild(
    cls: type[_Handle[Any]],
    url: str,
    name: str,
    capacity: int | None,
    ttl: float,
    travel_secrets: bool,
    travel_id: str,
) -> _Handle[Any]:
    the_link = link(with_secrets(url))
    keys = Keys(name)
    chan = _Channel(the_link, keys, capacity, ttl, travel_secrets)
    side = cls._side
    lease = Lease(the_link, keys, side, ttl)
    # Inside a receive, the adopt keeps the receive's bound (``Expired`` then propagates, and
    # the receive leaves the message in its buffer: review 2, finding 03).
    deadline = getattr(_unpickling, "deadline", None)
    try:
        reply = the_link.call(fixed(evalsha(_LEASE, keys, "adopt", side, travel_id, lease.id)), deadline)
    except ConnectionError as exc:
        hint = (
            ""
            if travel_secrets or "credentials" not in exc.message  # (not for a server that is down)
            else "; a pickled handle carries no password or TLS keys: call "
            "mpsc.redis.credentials(url) in this process first, or make the channel with travel_secrets=True"
        )
        raise ConnectionError(f"{exc.message}{hint}") from exc
    the_link.saw(reply[0])
    lease.lost = _status(reply) == b"lost"
    handle = cls._new(chan, lease)
    adopted = getattr(_unpickling, "adopted", None)
    if adopted is not None:
        adopted.append((handle, travel_id))
    return handle


OWN_ERROR_NOTE: Final = (
    "mpsc.redis: the received value's own unpickling code raised this; the message was consumed"
)
"""The note added to a value's own unpickling error as a receive raises it (``_bridge`` goes on
past such a message; a program can tell it from the handle's own errors the same way)."""

_ADOPTION: Final = _rebuild.__code__
"""A carried handle's adoption, which ``pickle.loads`` calls: mpsc's code, where whatever comes
out landed (``_interrupts.came_through``)."""
_REBUILD: Final = _rebuild.__name__.encode()
"""In every pickle that holds a handle (the name of the function that unpickles it)."""

_unpickling = threading.local()
"""While a receive unpickles a message (``_loads``): ``deadline``, the bound of the adopts of
the handles inside it, and ``adopted``, the handles adopted so far with their travel ids; after
it, ``own``: the value's own unpickling error, if that is what it raised."""


def _loads(payload: bytes, deadline: float | None) -> Any:
    """Unpickle a received message, adopting the handles inside it by ``deadline``. When an
    adopt fails (``ChannelError``, ``Expired``) the message is not taken, and the handles
    already adopted from it get their travel leases back (under the same ids, which the next
    try adopts) before they close: their sides stay alive meanwhile.

    An ``Exception`` that ``pickle.loads`` raised by itself, not through an adoption, is the
    value's own error, and is left in ``_unpickling.own`` (the message is consumed: see
    ``Receiver._hand_out``); anything else landed (a signal handler may raise an ``Exception``
    too), before unpickling started, in an adoption, or after it ended."""
    adopted: list[tuple[_Handle[Any], str]] = []
    _unpickling.deadline, _unpickling.adopted, _unpickling.own = deadline, adopted, None
    feed = iter((payload,))  # (consumed once pickle.loads started)
    try:
        for value in map(pickle.loads, feed):
            return value
    except Exception as exc:
        _unpickling.deadline = _unpickling.adopted = None
        if not length_hint(feed) and not came_through(exc, _ADOPTION):
            _unpickling.own = exc  # (a ChannelError too: the value's code may raise one)
        elif isinstance(exc, (ChannelError, Expired)):
            _give_back(adopted)  # an adopt failed
        raise
    finally:
        _unpickling.deadline = _unpickling.adopted = None
    raise AssertionError("unreachable: pickle.loads returns or raises")


def _give_back(adopted: list[tuple[_Handle[Any], str]]) -> None:
    for handle, travel_id in adopted:
        lease = handle._lease
        try:
            handle._call(
                _LEASE,
                "travel",
                lease.side,
                lease.id,
                travel_id,
                int(TRAVEL * 1000),
                deadline=time.monotonic() + GRACE,
            )
        except Exception:
            pass  # (the side then lasts as long as its other handles)
        handle.close()


class _Lane:
    """One sequence of sends (see the module's docstring), with the part of its ``SEND_FAST``
    command that never changes, encoded once (``head``: ``HEAD_ARGS`` arguments)."""

    __slots__ = ("field", "head", "seq")
    HEAD_ARGS: ClassVar = 9

    def __init__(self, lease: Lease, field: str) -> None:
        self.field = field
        self.seq = 0
        keys = lease.keys.send
        self.head = _resp.encode("EVALSHA", _SEND_FAST.sha, len(keys), *keys, lease.id, field)


class Sender(_Handle[T]):
    """The sending half of a Redis channel. Clone it for each producer (anywhere)."""

    __slots__ = ("_lane_count", "_lanes", "_lanes_lock")
    _side = "tx"

    def _setup(self) -> None:
        self._lanes: list[_Lane] = [_Lane(self._lease, self._lease.id)]
        self._lane_count = 1
        self._lanes_lock = threading.Lock()  # (no two new lanes get the same number, GIL or not)

    def _take_lane(self) -> _Lane:
        try:
            return self._lanes.pop()
        except IndexError:
            with self._lanes_lock:
                self._lane_count += 1
                number = self._lane_count
            lane = _Lane(self._lease, f"{self._lease.id}/{number}")
            self._lease.lanes.append(lane.field)  # forgotten on the server at close
            return lane

    def _send_steps(
        self,
        payloads: list[bytes],
        values: Any,
        deadline: float | None,
        once: bool,
        many: bool = False,
        blocking: bool = True,
    ) -> Algorithm[int]:
        """Put every payload in the stream; the number sent. The errors carry ``values`` (with
        ``many``, the list of those not sent)."""
        lease = self._open()
        chan = self._chan
        the_link = chan.link
        lane = self._take_lane()
        sent = 0

        def left() -> Any:
            return values[sent:] if many else values

        fast = True  # SEND_FAST first; SEND after it answered 'slow'
        acked_here = False
        redo = False  # the same chunk again, with the same sequence number
        guarded = True  # with a server-side deadline (``late``)
        chunk: list[bytes] = []
        seq = 0
        size = 0
        try:
            while True:
                if not redo:
                    chunk = _chunk(payloads, sent)
                    seq = lane.seq + 1
                    lane.seq += len(chunk)  # reserved now: see the module's docstring
                    size = sum(map(len, chunk))
                    # (a large command goes once: SEND_FAST's 'slow' would upload it twice)
                    fast, guarded = size <= LARGE, True
                redo = False

                def build(
                    give_up: float,
                    attempt: int,
                    seq: int = seq,
                    chunk: list[bytes] = chunk,
                    fast: bool = fast,
                    guarded: bool = guarded,
                ) -> list[Any] | Packed:
                    # (the script's reply has GRACE / 2 to come back before the attempt gives up)
                    late = the_link.server_ms(give_up - GRACE / 2) if guarded else 0
                    if fast:
                        command = _resp.command(_Lane.HEAD_ARGS, lane.head, seq, late, *chunk)
                        return Packed(command, _SEND_FAST)
                    return evalsha(_SEND, lease.keys, lease.id, lane.field, seq, late, *chunk)

                try:
                    # (cancelled: its attempt is waited for to its give-up, after which it can do
                    # nothing; a lost reply is the documented residue)
                    reply = yield Step(
                        build, None if deadline is None else deadline + GRACE, lasts=None, size=size
                    )
                except Expired:
                    raise Timeout(left()) from None
                the_link.saw(reply[0])
                status = _status(reply)
                if status == b"slow":  # (nothing done) the full script decides
                    fast, redo = False, True
                    continue
                fast = True
                if status == b"ok":
                    done = int(reply[2])
                    sent += done
                    if sent == len(payloads):
                        return sent
                    if done == len(chunk):
                        continue  # the next chunk
                elif status == b"disc":
                    raise SendError(left())
                elif status == b"lost":
                    self._open()  # (closed by another thread meanwhile: ClosedHandleError)
                    lease.lost = True
                    raise LeaseExpiredError()
                elif status == b"late":  # this attempt (and any before it) did nothing
                    if expired(deadline):
                        raise Timeout(left())
                    # Again, with the same number (an earlier attempt whose reply was lost may
                    # yet have run). An untimed send goes on without a server-side deadline:
                    # what made it late (a slow upload, a server clock step) could make every
                    # attempt late (review 2, finding 10); its retries are deduplicated by the
                    # number, but a ConnectionError then leaves its outcome unknown.
                    if deadline is None:
                        guarded = False
                    redo = True
                    continue
                else:  # pragma: no cover
                    raise AssertionError(f"unexpected reply {reply!r}")
                # Full (for the rest). What this process's receivers handed out and have not
                # acknowledged yet (they do it just after returning) is acknowledged first: a
                # receive that returned here makes room for a send here at once.
                if not acked_here:
                    acked_here = True
                    if (yield from _ack_here(chan)):
                        continue
                if once:
                    raise Full(left())
                if expired(deadline):
                    raise Timeout(left())
                if blocking:
                    refuse_in_event_loop("send_async()")
                block = (
                    lease.ttl if deadline is None else max(0.001, min(lease.ttl, deadline - time.monotonic()))
                )
                try:
                    yield Step(fixed(["BLPOP", lease.keys.space, round(block, 3)]), deadline, block, False)
                except Expired:
                    raise Timeout(left()) from None
                self._open()
        finally:
            self._lanes.append(lane)

    def _rendezvous_steps(
        self, payload: bytes, value: Any, deadline: float | None, once: bool, blocking: bool = True
    ) -> Algorithm[int]:
        """Hand ``payload`` to a receiver (``_lua.RV_SEND``): at once to one announced as
        waiting, else (unless ``once``) by posting an offer and waiting until a receiver took
        it; an offer not taken by the deadline (or when the wait is abandoned) is withdrawn.
        The errors carry ``value``. Returns 1 (sent).

        An offer expires on the server at an instant this sender knows by its own clock
        (``dies``): its deadline, and at most ``OFFER`` seconds after its post or its last
        extension (every ``OFFER / 2`` while it waits). So when the server cannot be reached
        (paused, gone and back), the steps that take the offer back are bounded by ``dies``
        (plus GRACE): past it, no receiver can take the offer any more, and the send raises
        (``Timeout``; ``ConnectionError`` untimed) knowing the value will not be received --
        unless a receiver took it before and that news was lost with the server (the residue
        of a lost reply: see ``mpsc.redis``). An untimed send whose offer expired untaken (the
        server paused longer than OFFER) posts it again."""
        lease = self._open()
        keys = lease.keys
        the_link = self._chan.link
        if blocking and not once:
            refuse_in_event_loop("send_async()")  # before anything is posted
        lane = self._take_lane()
        acks = keys.acks(lane.field)

        def horizon(now: float) -> float:
            return now + OFFER if deadline is None else min(deadline, now + OFFER)

        try:
            while True:  # post (again when an untimed send's offer expired untaken)
                while True:
                    lane.seq += 1  # reserved now: a retried attempt carries the same number
                    # An untimed post does nothing after ``dies - GRACE / 2`` (its reply has
                    # GRACE / 2 to come back): a cancelled send_async whose post got no answer
                    # knows by ``dies`` that it posted nothing that can be taken. A timed one's
                    # reply is waited for until its deadline, and then undone.
                    now = time.monotonic()
                    dies = now + (OFFER + GRACE) / 2 if deadline is None else min(deadline, now + OFFER)
                    by = dies - GRACE / 2 if deadline is None else dies
                    if once:  # (posts nothing: the attempt's give-up is its late guard)
                        by = float("inf")

                    def build(
                        give_up: float, attempt: int, seq: int = lane.seq, dies: float = dies, by: float = by
                    ) -> list[Any]:
                        late = the_link.server_ms(min(give_up, by))
                        mode = "try" if once else "post"
                        expiry = 0 if once else the_link.server_ms(dies)
                        return evalsha_with(
                            _RV_SEND, keys, acks, lease.id, lane.field, seq, late, mode, expiry, payload
                        )

                    try:
                        # (the upload's time by its size: see _link)
                        reply = yield Step(build, deadline, lasts=None, until=dies, size=len(payload))
                    except Expired:
                        # The attempt may have run with its reply lost: undo it (a late copy of
                        # it does nothing, by its late guard and the sequence number), while it
                        # matters: past ``dies`` an offer it posted is expired.
                        undo = evalsha_with(
                            _RV_SEND, keys, acks, lease.id, lane.field, lane.seq, 0, "undo", 0, b""
                        )
                        bound = dies if deadline is None else dies + GRACE  # (untimed: cancelled)
                        try:
                            reply = yield Step(fixed(undo), bound, lasts=None, until=bound)
                        except Expired:
                            raise Timeout(value) from None
                        if _status(reply) == b"undone":
                            raise Timeout(value) from None
                    the_link.saw(reply[0])
                    status = _status(reply)
                    if status == b"ok":
                        return 1
                    if status == b"posted":
                        break
                    if status == b"full":
                        raise Full(value)
                    if status == b"disc":
                        raise SendError(value)
                    if status == b"lost":
                        self._open()  # (closed by another thread meanwhile: ClosedHandleError)
                        lease.lost = True
                        raise LeaseExpiredError()
                    if status != b"late":  # pragma: no cover
                        raise AssertionError(f"unexpected reply {reply!r}")
                    if expired(deadline):
                        raise Timeout(value)
                offer = bytes(reply[2])
                while True:
                    give_up = expired(deadline)
                    if not give_up:
                        # (woken in time to extend the offer before it expires; one that
                        # expires at the deadline is not extended)
                        until = deadline if deadline is not None and dies >= deadline else dies - OFFER / 2
                        block = max(0.001, min(lease.ttl, until - time.monotonic()))
                        wait = ["BLMOVE", acks, acks, "RIGHT", "LEFT", round(block, 3)]
                        try:
                            got = yield Step(fixed(wait), dies, block, False)
                        except Abandoned:  # (a cancellation, Ctrl-C)
                            got, give_up = None, True
                        except (Expired, ConnectionError):  # (no answer: the check asks)
                            got, give_up = None, expired(deadline)
                        if got is not None and bytes(got) == offer:
                            return 1
                    # Not heard (a wait's end, a reply lost, 'gone'): ask, extending the offer;
                    # withdraw when giving up.
                    mode = "withdraw" if give_up else "check"
                    if not give_up:
                        dies = max(dies, horizon(time.monotonic()))

                    def check(
                        give_up: float,
                        attempt: int,
                        mode: str = mode,
                        dies: float = dies,
                        offer: bytes = offer,
                    ) -> list[Any]:
                        # (a retried attempt does not extend: ``dies`` stays the latest it sent)
                        expiry = the_link.server_ms(dies) if mode == "check" and not attempt else 0
                        return evalsha_with(_RV_CHECK, keys, acks, offer, mode, expiry)

                    # Its answer matters while the offer can be taken (a withdrawal's), or
                    # until the deadline; an untimed check waits for the server (RETRY_FOR).
                    if give_up:
                        check_by: float | None = dies + GRACE
                    else:
                        check_by = None if deadline is None else deadline + GRACE
                    try:
                        reply = yield Step(check, check_by, lasts=None, until=dies + GRACE / 2)
                    except Expired:
                        if deadline is not None:
                            raise Timeout(value) from None
                        raise ConnectionError(
                            f"the Redis server at {the_link.public} did not answer; the offer expired "
                            "untaken (unless a receiver took it before the server went away)"
                        ) from None
                    status = _status(reply)
                    if status == b"taken":
                        return 1
                    if status == b"disc":
                        raise SendError(value)
                    if status == b"withdrawn":
                        self._open()  # (withdrawn at this handle's close, or its lease's end)
                        raise Timeout(value)
                    if status == b"expired":
                        if expired(deadline):
                            raise Timeout(value)
                        break  # nobody took it (the server was paused): posted again
        finally:
            self._lanes.append(lane)

    def _steps_for(
        self, payload: bytes, value: Any, deadline: float | None, once: bool, blocking: bool = True
    ) -> Algorithm[int]:
        if self._chan.capacity == 0:
            return self._rendezvous_steps(payload, value, deadline, once, blocking)
        return self._send_steps([payload], value, deadline, once, blocking=blocking)

    def _send(self, value: T, deadline: float | None, once: bool) -> None:
        payload, travels = _dumps_noting(value)
        try:
            drive(self._chan.link, self._steps_for(payload, value, deadline, once))
        except _NOT_SENT:
            _end_travels(travels)
            raise

    def send(self, value: T) -> None:
        """Send ``value`` (pickled here; an unpicklable one raises and nothing is sent). On a
        bounded channel, waits while it is full. Returns once the value is on the server.

        Args:
            value: What to send; it must pickle.

        Raises:
            SendError: Every Receiver is gone; the value was not sent and is ``.value``.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the value was not sent (unless the server ran the send and was paused
                or cut off before replying, or an attempt came too late and the send went on
                without a server-side deadline, as a large value on a slow link may: see
                ``mpsc.redis``).
            RuntimeError: Called inside a running event loop when it would have to wait: use
                ``send_async`` there.
        """
        self._send(value, None, False)

    def try_send(self, value: T) -> None:
        """Send without waiting.

        Args:
            value: What to send; it must pickle.

        Raises:
            Full: A bounded channel is full; the value is ``.value``.
            SendError: Every Receiver is gone; the value is ``.value``.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the value was not sent.
        """
        self._send(value, None, True)

    def send_timeout(self, value: T, timeout: float) -> None:
        """Send, waiting at most ``timeout`` seconds for room.

        Args:
            value: What to send; it must pickle.
            timeout: Seconds to wait at most (>= 0). An attempt sent in time is waited for up
                to ``GRACE`` more and counts: ``send_timeout(v, 0)`` sends when there is room.

        Raises:
            Timeout: No room came in time; the value was not sent (the server said so: see
                ``mpsc.redis`` for the one case not covered) and is ``.value``.
            SendError: Every Receiver is gone; the value is ``.value``.
            ValueError: A negative timeout.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the value was not sent.
        """
        self._send(value, deadline_after(timeout), False)

    def send_deadline(self, value: T, deadline: float) -> None:
        """Send, waiting until the ``time.monotonic()`` instant ``deadline`` at the latest.

        Args:
            value: What to send; it must pickle.
            deadline: A ``time.monotonic()`` instant.

        Raises:
            Timeout: No room came in time; the value was not sent and is ``.value``.
            SendError: Every Receiver is gone; the value is ``.value``.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the value was not sent.
        """
        self._send(value, _from_now_on(deadline), False)

    def send_many(self, values: Iterable[T]) -> None:
        """Send every value, in order, up to ``CHUNK`` (and ``CHUNK_BYTES``) per round trip
        (pipelined appends in one script): much faster than a ``send`` each. Waits for room on
        a bounded channel. Every value is pickled first, so an unpicklable one sends nothing.

        Args:
            values: What to send, in order; each must pickle.

        Raises:
            SendError: Every Receiver is gone; ``.value`` is the list of the values not sent
                (those before them were sent).
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the round trip that failed sent none of its values, those of earlier round
                trips were sent.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        items = list(values)
        payloads = [_dumps(v) for v in items]
        if self._chan.capacity == 0:  # a rendezvous: one hand-off after another
            i = 0
            try:  # (around the loop: a back edge must not leave a handler, see _ops.recorded)
                for i, payload in enumerate(payloads):
                    drive(self._chan.link, self._rendezvous_steps(payload, items[i], None, False))
            except SendError:
                raise SendError(items[i:]) from None
            return
        drive(self._chan.link, self._send_steps(payloads, items, None, False, many=True))

    async def send_async(self, value: T) -> None:
        """``send`` for asyncio (redis.asyncio; no thread). Safe to cancel: either the value was
        sent (it returns; the cancellation is delivered at the next await) or
        ``CancelledError`` is raised and it was not. On a server that does not answer, a
        cancelled send ends once its outcome is known: when its script's attempt gives up
        (``IO_TIMEOUT`` after it was sent; until then it could still enqueue the value), or
        on a rendezvous channel when its offer expired (``OFFER`` at most).

        Args:
            value: What to send; it must pickle.

        Raises:
            SendError: Every Receiver is gone; the value was not sent and is ``.value``.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; the value was not sent.
        """
        payload, travels = _dumps_noting(value)
        try:
            await drive_async(self._chan.link, self._steps_for(payload, value, None, False, blocking=False))
        except _NOT_SENT:
            _end_travels(travels)
            raise


SyncSender = Sender
"""Rust's name for the sender of a ``sync_channel``; the same class."""


class _Take:
    """One receive's claim on its Receiver (``Receiver._owner``) and what it took: ``taken``
    turns True, together with ``value``, in the instant the entry leaves the buffer (a burst
    with no check point: see ``Receiver._recv_steps``). ``loop``: the event loop of an async
    receive (a weak reference), by which a receive whose loop is gone is recognised."""

    __slots__ = ("loop", "taken", "value")

    def __init__(self, loop: Any = None) -> None:
        self.loop: Callable[[], Any] | None = None if loop is None else weakref.ref(loop)
        self.taken = False
        self.value: Any = None

    def stale(self) -> bool:
        """An async receive whose event loop is closed or gone: it never resumes."""
        if self.loop is None:
            return False
        loop = self.loop()
        return loop is None or bool(loop.is_closed())


_GIVING: Final = _Take()
"""``Receiver._owner`` while the lease thread gives back the handle's entries."""


class Receiver(_Handle[T]):
    """The receiving half of a Redis channel. Clones (anywhere) share the messages: each goes
    to exactly one of them (MPMC)."""

    __slots__ = (
        "_announced",
        "_batch",
        "_buf",
        "_ended",
        "_fence",
        "_fetch_head",
        "_fetching",
        "_guard",
        "_last",
        "_lock",
        "_orphans",
        "_owner",
        "_recent",
    )
    _side = "rx"

    def _setup(self) -> None:
        self._buf: deque[tuple[bytes, bytes]] = deque()
        # One receive at a time per handle: ``_lock`` is held by ``_owner`` (a ``_Take``);
        # ``_guard`` orders the owner's leaving with another receive taking over the lock of
        # an async receive whose event loop is gone (which never leaves).
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._owner: _Take | None = None
        self._orphans = False
        # A fetch cut short (an interrupt before its entries were buffered) leaves them pending
        # under this handle, re-read by the next one (``_orphans``), which takes half as many:
        # under a storm of interrupts a smaller fetch still gets through (and doubles again).
        self._fetching = False
        self._batch = BATCH
        self._ended = False
        # A rendezvous receive announced itself in a fetch whose announcement no later fetch
        # took back (a receive cut short between the two: given back, see _give_back).
        self._announced = False
        # Server time (ms) until which a fetch whose reply never came may still run (its
        # ``late``): it may yet take entries into this consumer's pending ones, so no reply
        # the server made before then may clear ``_orphans`` (review 4, finding 05).
        self._fence = 0
        # Entries handed out lately: a re-read of this consumer's pending entries racing the
        # acknowledgement of one of them (by the lease thread) must not hand it out again.
        self._recent: deque[bytes] = deque(maxlen=64)
        # When this handle last handed an entry out: idle for IDLE, it gives back what it
        # holds (from the lease thread), and its next fetch starts small again.
        self._last = -float("inf")
        self._lease.give_back = weakref.WeakMethod(self._give_back)
        # The part of a fetch's command that never changes, encoded once (``_resp``).
        keys = self._lease.keys.all
        self._fetch_head = _resp.encode("EVALSHA", _RECV.sha, len(keys), *keys, self._lease.id)

    def _holds(self) -> bool:
        """Whether this handle holds what its peers could use while it idles: fetched entries
        (buffered, or pending on the server after a fetch cut short or a reply cut by size),
        or a rendezvous announcement a receive cut short left (review 3, findings 03/04/06)."""
        return bool(self._buf) or self._orphans or self._announced

    def _give_back(self) -> bool:
        """From the lease thread, every ``IDLE`` while this handle holds something (``_holds``):
        once it has not received for ``IDLE``, give it back to the other receivers
        (``_lua.GIVE``, which also takes back an announcement), under the receive lock (a
        receive running meanwhile waits; a ``try_recv`` too, up to ``GRACE``). True while there
        is something to check again: also after a give-back the server did not answer, tried
        again (review 2, finding 08; review 3, finding 08). An announcement alone goes at once:
        nobody waits in ``recv`` behind it."""
        if (self._buf or self._orphans) and time.monotonic() - self._last < IDLE:
            return True
        lock = self._lock
        # The lock and the owner's mark together, under the guard: a try_recv that finds the
        # lock taken reads the owner under it too, and so never sees a give-back unmarked (on
        # the free-threaded build it did, and said Empty at once rather than wait for it).
        with self._guard:
            if not lock.acquire(False):
                owner = self._owner
                if owner is None or owner is _GIVING or not owner.stale():
                    return True  # a receive runs: it watches again if it leaves something
                # An async receive whose event loop is gone holds it (and maybe a rendezvous
                # announcement): taken over, as ``_enter`` does (review 4, finding 03).
            self._owner = _GIVING
        try:
            lease = self._lease
            if not self._holds() or lease.closed or lease.lost:
                lease.watched = False
                return False
            if (self._buf or self._orphans) and time.monotonic() - self._last < IDLE:
                return True
            # Everything pending under this handle but what it handed out goes (also entries a
            # cut reply left there: its own next fetch would re-read those before the rest).
            handed = lease.pending_acks()
            self._buf.clear()
            the_link = self._chan.link

            def build(give_up: float, attempt: int) -> list[Any]:
                # Nothing is done past ``late``: a reply that did not come means either given
                # back, or never (this handle's next fetch re-reads its pending entries after it).
                late = the_link.server_ms(give_up - GRACE / 2)
                return evalsha(_GIVE, lease.keys, lease.id, late, *handed)

            try:
                reply = the_link.call(build, time.monotonic() + GRACE)
            except Exception:
                self._orphans = True  # (given back, or still pending here: again after IDLE)
                return True
            the_link.saw(reply[0])
            status = _status(reply)
            if status == b"lost":
                lease.lost = True
            elif status != b"ok":
                self._orphans = True  # ('late': still pending under this handle; again)
                return True
            else:
                self._announced = False
                self._orphans = reply[0] <= self._fence  # (see _fence: again after IDLE)
                if self._orphans:
                    return True
            lease.watched = False
            return False
        finally:
            with self._guard:
                self._owner = None
                lock.release()

    def _enter(self, take: _Take, deadline: float | None, once: bool, patient: bool = True) -> bool:
        """Take this handle's receive lock for ``take``: at once (``once``), by ``deadline``,
        or whenever it comes. False if it did not come in time. The lock of an async receive
        whose event loop is gone is taken over; while the lease thread gives back this
        handle's entries, ``once`` waits for it up to ``GRACE`` if ``patient``. (Acquiring and
        recording the owner is one burst: ``map`` calls the C function with no check point
        before the store.)"""
        lock = self._lock
        waited = retried = False
        while True:
            if once:
                wait = GRACE if patient and self._owner is _GIVING else 0.0
            elif deadline is None:
                wait = 0.25
            else:
                wait = max(0.0, min(0.25, deadline - time.monotonic()))
            for got in map(lock.acquire, (True,), (wait,)):
                if got:
                    self._owner = take
                    return True
                break
            with self._guard:  # (see _give_back)
                owner = self._owner
            if owner is not None and owner.stale():
                with self._guard:
                    if self._owner is owner:
                        self._owner = take  # (the lock stays held: it passes to this receive)
                        return True
            if once and patient and owner is _GIVING and not waited:
                waited = True  # the lease thread gives back this handle's entries: a moment
                continue
            if once and owner is None and not retried:
                # Let go between the attempt and the look (a give-back ended: review 4, finding
                # 02; or a receive that just took it has not marked it yet): once more.
                retried = True
                continue
            if once or expired(deadline):
                return False

    def _leave(self, take: _Take) -> None:
        """Release the receive lock if ``take`` still holds it. Restartable (an interrupt can
        land only before the burst or after it)."""
        self._lease.handing = None  # (the value is the caller's now: see Lease.handing)
        with self._guard:
            if self._owner is take:
                self._owner = None
                self._lock.release()
        lease = self._lease
        if self._holds() and not lease.watched:
            renewer.watch(lease)  # given back if this handle stays idle (an interrupt: next time)
        if lease.acks and self._chan.capacity is not None:
            renewer.ack_soon(lease)  # the room a bounded receive left appears soon

    def _hand_out(self, take: _Take, loads: Callable[[bytes], Any]) -> T:
        """Hand out the first buffered entry, unpickled by ``loads``. The entry stays first in
        the buffer until it is taken, and is taken in one burst under ``acks_lock`` (no check
        point: an exception landing (Ctrl-C) lands before it, and nothing was taken, or after
        it, and the value is returned with the exception raised right after:
        ``Receiver._recv``). Under the same lock ``close()`` marks the lease closed: an entry is
        either handed out before (and acknowledged by the close) or not at all. It is
        acknowledged after the return (a bounded one: ``_leave``; the next fetch carries it if
        it comes first): until the caller has the value, the entry stays pending under this
        receiver, claimed by another if this process dies (review 2, finding 05).

        Raises what ``loads`` raises: ``Expired`` or a ``ChannelError`` (a handle inside could
        not be adopted) or an exception that landed, with nothing taken; the value's own error
        (whatever its class) with the entry consumed and ``OWN_ERROR_NOTE`` added."""
        lease = self._lease
        entry_id, payload = self._buf[0]
        feed = iter((payload,))  # (consumed once ``loads`` started)
        try:
            value: T
            for value in map(loads, feed):  # (stored with no check point after the call)
                break
        except Exception as exc:
            # The value's own error (then the entry is consumed) only if it came out of
            # pickle's own work: ``_loads`` tells for a message with handles inside; the hot
            # path's ``pickle.loads`` is C, where nothing lands as it starts.
            if loads is pickle.loads:
                own = None if length_hint(feed) else exc
            else:
                own = getattr(_unpickling, "own", None)
            _unpickling.own = None
            if exc is not own:  # an adopt failed (Expired, ChannelError), or it landed
                if isinstance(exc, (Expired, ChannelError)):
                    self._open()
                raise  # nothing taken
            with lease.acks_lock:
                if not lease.closed:
                    del self._buf[0]
                    lease.acks += (entry_id,)
                    self._recent += (entry_id,)
            self._open()
            if OWN_ERROR_NOTE not in getattr(exc, "__notes__", ()):  # (one instance raised again)
                exc.add_note(OWN_ERROR_NOTE)
            raise  # (the entry is consumed, as documented)
        with lease.acks_lock:
            if not lease.closed:
                del self._buf[0]
                lease.acks += (entry_id,)
                lease.handing = entry_id  # (until ``_leave``)
                self._recent += (entry_id,)
                take.value = value
                take.taken = True
        self._last = time.monotonic()
        if not take.taken:
            self._open()  # closed meanwhile: ClosedHandleError
        return value

    def _recv_steps(
        self, take: _Take, deadline: float | None, once: bool, blocking: bool = True
    ) -> Algorithm[T]:
        lease = self._open()
        chan = self._chan
        the_link = chan.link
        bounded = chan.capacity is not None
        # A rendezvous receiver that will wait announces itself with each fetch (senders then
        # hand it a value directly), and its last fetch takes the announcement back.
        rendezvous = chan.capacity == 0
        final = False
        # The fetch is a script: once sent, its reply is waited for GRACE past the deadline (it
        # counts: what it fetched is handed out rather than left pending under this handle).
        script_deadline = None if deadline is None else deadline + GRACE
        head = self._fetch_head
        head_args = 4 + len(lease.keys.all)
        while True:
            if self._ended:
                raise RecvError()
            if self._buf:
                if time.monotonic() >= lease.valid_until:
                    # The lease may be about to lapse: renew it (and acknowledge) before
                    # handing out an entry another receiver could otherwise claim.
                    acks = lease.pending_acks()
                    sent_at = time.monotonic()
                    try:  # (within the call's bound: a try_recv's is GRACE)
                        reply = yield Step(
                            fixed(evalsha(_ACK, lease.keys, lease.id, *acks)),
                            sent_at + GRACE if once else script_deadline,
                        )
                    except Expired:  # nothing was handed out: the entries stay buffered
                        if once:
                            raise EmptyAt((b"$", b"$")) from None
                        raise Timeout() from None
                    if _status(reply) == b"lost":
                        self._open()
                        lease.lost = True
                        self._buf.clear()
                        raise LeaseExpiredError()
                    lease.acked(acks)
                    lease.renewed(sent_at)
                    continue
                payload = self._buf[0][1]
                if _REBUILD not in payload:  # (no handle inside: the hot path)
                    loads: Callable[[bytes], Any] = pickle.loads
                elif script_deadline is not None:
                    loads = functools.partial(_loads, deadline=script_deadline)
                elif once or not blocking:  # (an async receive blocks its loop for the adopts)
                    loads = functools.partial(_loads, deadline=time.monotonic() + GRACE)
                else:
                    loads = functools.partial(_loads, deadline=None)
                try:
                    return self._hand_out(take, loads)
                except Expired:  # a handle's server did not answer in time: nothing was taken
                    if once:
                        raise EmptyAt((b"$", b"$")) from None
                    if deadline is not None:
                        raise Timeout() from None
                    raise ConnectionError(
                        "the Redis server of a handle in the message did not answer within GRACE; "
                        "nothing was taken"
                    ) from None
            acks = lease.pending_acks()
            if self._fetching:
                self._batch = max(1, self._batch // 2)
            elif time.monotonic() - self._last >= IDLE:
                # After a pause (idle, or waiting): one entry first, doubling with each fetch,
                # so that a worker that just woke does not take what its peers could run.
                self._batch = 1
            count = self._batch if not bounded else 1
            read_orphans = self._orphans or rendezvous
            self._orphans = True  # until a reply's entries are in the buffer
            self._fetching = True
            announce = 0
            if rendezvous and not once and not final and not expired(deadline):
                wait_for = lease.ttl if deadline is None else min(lease.ttl, deadline - time.monotonic())
                announce = int((wait_for + lease.ttl) * 1000)  # outlasts the wait and the next fetch

            reread = [read_orphans]  # (whether the attempt answered re-read pending entries)
            lates: list[int] = []  # (each attempt's late)
            fence = self._fence

            def build(
                give_up: float,
                attempt: int,
                acks: list[bytes] = acks,
                again: bool = read_orphans,
                count: int = count,
                announce: int = announce,
                reread: list[bool] = reread,
                lates: list[int] = lates,
            ) -> Packed:
                # A retried attempt re-reads this consumer's pending entries: the lost reply
                # may have carried some. Each attempt does nothing past its ``late``, its
                # give-up (no margin: a fetch that runs in time is answered in time, and one
                # answered after the give-up is covered by the fence); until its reply is read,
                # it raises the fence (see ``_fence``). (Review 5, finding 01: give-up less
                # GRACE/2 made a server paused 0.35 s answer a try_recv 'late', and Empty.)
                reread[0] = again or attempt > 0
                again_flag = "1" if reread[0] else "0"
                late = the_link.server_ms(give_up)
                lates.append(late)
                self._fence = max(self._fence, late)
                return Packed(_resp.command(head_args, head, count, again_flag, announce, late, *acks), _RECV)

            if announce:
                self._announced = True  # (until a fetch that does not announce answers)
                if take.loop is not None and not lease.watched:
                    # An async receive's loop may close while it waits: the lease thread then
                    # takes the announcement back (``_give_back``).
                    renewer.watch(lease)
            sent_at = time.monotonic()
            try:
                reply = yield Step(build, sent_at + GRACE if once else script_deadline)
            except Expired:
                # No reply even GRACE past the deadline (a server paused or cut off): what the
                # fetch may have taken is re-read by this handle's next receive (``_orphans``).
                if once:
                    raise EmptyAt((b"$", b"$")) from None
                raise Timeout() from None
            # The attempt answered ran (or never will): only earlier ones may still run.
            self._fence = max([fence, *lates[:-1]])
            the_link.saw(reply[0])
            status = _status(reply)
            if status == b"lost":
                self._open()  # closed meanwhile: ClosedHandleError
                lease.lost = True
                raise LeaseExpiredError()
            if status == b"late":  # it did nothing (a slow server): as if it had not answered
                if once:
                    raise EmptyAt((b"$", b"$"))
                if expired(deadline):
                    raise Timeout()
                continue
            lease.acked(acks)
            self._announced = bool(announce) and status == b"empty"
            if status == b"ok":
                lease.renewed(sent_at)
                entries = _entries(reply[2], reply[3], reply[4])
                fresh = []
                for entry in entries:
                    if entry[0] in self._recent:
                        lease.handed(entry[0])  # handed out already: acknowledged again, not again
                    else:
                        fresh.append(entry)
                # A burst: until it, ``_orphans`` says to re-read them. A reply cut by size
                # left more pending under this consumer; so may a full one that re-read them
                # (or, on a rendezvous channel, after senders handed it values), and a fetch
                # whose reply never came and may still run (``_fence``): the next fetch re-reads
                # first. A fetch of new entries only leaves none behind.
                self._buf += fresh
                full = len(entries) >= count and reread[0]
                self._orphans = len(reply) > 5 or full or reply[0] <= self._fence
                self._fetching = False
                self._batch = min(BATCH, 2 * self._batch)
                continue
            self._orphans = reply[0] <= self._fence
            self._fetching = False
            if status == b"disc":
                self._ended = True
                raise RecvError()
            lease.renewed(sent_at)
            # Empty: wait for an append to the stream or a notice on ctl, then fetch again.
            if once:
                raise EmptyAt((bytes(reply[2]), bytes(reply[3])))
            if rendezvous and not announce:
                raise Timeout()  # the last look, which took the announcement back
            if expired(deadline):
                if rendezvous:
                    final = True
                    continue
                raise Timeout()
            if blocking:
                refuse_in_event_loop("recv_async()")
            last, lastctl = reply[2], reply[3]
            block = lease.ttl if deadline is None else max(0.001, min(lease.ttl, deadline - time.monotonic()))
            ms = max(1, int(block * 1000))
            keys = lease.keys
            wait = ["XREAD", "COUNT", 1, "BLOCK", ms, "STREAMS", keys.stream, keys.ctl, last, lastctl]
            try:
                yield Step(fixed(wait), deadline, block, False)
            except Expired:  # (Abandoned too: a cancellation, Ctrl-C)
                if not rendezvous:
                    raise Timeout() from None
                final = True  # a last look takes the announcement back (or what it brought)
            self._open()

    def _recv(self, deadline: float | None, once: bool) -> T:
        """One receive. Whatever exception lands once the entry is taken (``take.taken``), the
        value is returned and the exception raised right after (``_interrupts.finish``); before
        that, the exception propagates and nothing was taken (the entry stays buffered, or
        pending under this handle and re-read by its next receive)."""
        self._open()
        take = _Take()
        if not self._enter(take, deadline, once):
            # Another thread (or task) is receiving through this handle.
            if once:
                raise EmptyAt((b"$", b"$"))
            raise Timeout()
        try:
            buf = self._buf
            if (
                buf
                and _REBUILD not in buf[0][1]
                and not self._ended
                and time.monotonic() < self._lease.valid_until
            ):  # (what ``_recv_steps`` would do first, without its machinery: the hot path)
                value = self._hand_out(take, pickle.loads)
            else:
                value = drive(self._chan.link, self._recv_steps(take, deadline, once))
            self._leave(take)
            return value
        except BaseException as exc:
            if take.taken:
                taken: T = take.value
                try:
                    return finish(taken, self._leave, take, exc)
                except BaseException as landed:  # as finish() started
                    return finish(taken, self._leave, take, landed)
            try:
                exc = complete(self._leave, take, exc)
            except BaseException as landed:  # as complete() started
                exc = complete(self._leave, take, landed)
            raise exc

    def recv(self) -> T:
        """Receive the next message, waiting for one.

        Returns:
            The message (unpickled).

        Raises:
            RecvError: Every Sender is gone and everything sent was received.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; nothing was taken.
            RuntimeError: Called inside a running event loop when it would have to wait: use
                ``recv_async`` there.
            Exception: Whatever unpickling the message raised (the entry is consumed), except
                a ``ChannelError`` of adopting a handle inside it (its server could not be
                reached, or refused): then nothing was taken.
        """
        return self._recv(None, False)

    def try_recv(self) -> T:
        """Receive a message that is there now, without waiting.

        Returns:
            The message (unpickled).

        Raises:
            Empty: No message is there now (or another thread or task is receiving through
                this handle right now, or the server did not answer within ``GRACE``).
            RecvError: Every Sender is gone and everything sent was received.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; nothing was taken.
        """
        return self._recv(None, True)

    def recv_timeout(self, timeout: float) -> T:
        """Receive, waiting at most ``timeout`` seconds.

        Args:
            timeout: Seconds to wait at most (>= 0). A fetch sent before it passed is waited
                for up to ``GRACE`` more, and what it fetched is returned: ``recv_timeout(0)``
                returns a message that is there.

        Returns:
            The message (unpickled).

        Raises:
            Timeout: Nothing came in time; nothing was taken.
            RecvError: Every Sender is gone and everything sent was received.
            ValueError: A negative timeout.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; nothing was taken.
        """
        return self._recv(deadline_after(timeout), False)

    def recv_deadline(self, deadline: float) -> T:
        """Receive, waiting until the ``time.monotonic()`` instant ``deadline`` at the latest.

        Args:
            deadline: A ``time.monotonic()`` instant.

        Returns:
            The message (unpickled).

        Raises:
            Timeout: Nothing came in time.
            RecvError: Every Sender is gone and everything sent was received.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; nothing was taken.
        """
        return self._recv(_from_now_on(deadline), False)

    def __iter__(self) -> Iterator[T]:
        """Messages as they arrive, until every Sender is gone and all are received."""
        return self

    def __next__(self) -> T:
        try:
            return self._recv(None, False)
        except RecvError:
            raise StopIteration from None

    def try_iter(self) -> Iterator[T]:
        """The messages there now, without waiting."""
        while True:
            try:
                yield self._recv(None, True)
            except (Empty, RecvError):
                return

    async def recv_async(self) -> T:
        """``recv`` for asyncio (redis.asyncio; no thread). Safe to cancel: either a message is
        returned (the cancellation is delivered at the next await) or ``CancelledError`` is
        raised and nothing was taken (on a server that does not answer, within ``GRACE``: what
        its fetch may take then is re-read by this handle's next receive). A message carrying
        handles adopts them with blocking calls: the event loop waits up to ``GRACE`` for their
        server (then ConnectionError, nothing taken).

        Returns:
            The message (unpickled).

        Raises:
            RecvError: Every Sender is gone and everything sent was received.
            ClosedHandleError: This handle was closed, or inherited through fork.
            mpsc.redis.LeaseExpiredError: This handle's lease expired (its process was paused or
                cut off from the server for a whole lease).
            mpsc.redis.ConnectionError: The server could not be reached for ``RETRY_FOR``
                seconds; nothing was taken.
        """
        import asyncio

        self._open()
        take = _Take(asyncio.get_running_loop())
        while True:  # (not `while not ...:` -- see _ops.recorded)
            if self._enter(take, None, True, patient=False):  # (never blocks the loop)
                break
            await asyncio.sleep(0.001)  # another thread or task is receiving through this handle
        try:
            return await drive_async(self._chan.link, self._recv_steps(take, None, False, blocking=False))
        finally:
            # (A task whose loop is closed never gets here: the next receive takes the lock over.)
            self._leave(take)

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.recv_async()
        except RecvError:
            raise StopAsyncIteration from None


_pickling = threading.local()
"""``travels``: while a send pickles its value, the travel leases of the handles inside it."""

_NOT_SENT: Final = (SendError, Full, Timeout, ClosedHandleError, LeaseExpiredError)
"""A send that raised one of these did not enqueue its value (``mpsc.redis``'s guarantees)."""


def _entries(ids: bytes, lengths: bytes, payloads: bytes) -> list[tuple[bytes, bytes]]:
    """A fetch's entries, (id, payload) each, from its reply's three strings (``_lua.RECV``)."""
    ends = list(itertools.accumulate(map(int, lengths.split(b","))))
    return list(zip(ids.split(b" "), map(payloads.__getitem__, map(slice, [0, *ends], ends)), strict=True))


def _from_now_on(deadline: object) -> float | None:
    """A caller's deadline, checked; one already past is now (a call then does what it can at
    once, as ``*_timeout(0)`` does: review 3, finding 05)."""
    instant = checked_deadline(deadline)
    return None if instant is None else max(instant, time.monotonic())


def _ack_here(chan: _Channel) -> Algorithm[bool]:
    """Acknowledge now what this process's receivers of ``chan`` handed out and have not
    acknowledged yet (a bounded receive acknowledges just after it returned: ``ack_soon``), so
    that what a receive here returned is seen gone by a send or ``len()`` here. Whether any
    was. Failures are left to the receivers' own acknowledgement (both are harmless twice)."""
    done = False
    for lease in renewer.unacked(chan.keys.name):
        acks = lease.pending_acks(returned=True)
        if not acks:
            continue
        try:
            reply = yield Step(fixed(evalsha(_ACK, lease.keys, lease.id, *acks)), time.monotonic() + GRACE)
        except (ConnectionError, Expired):
            continue
        if _status(reply) != b"lost":
            lease.acked(acks)
            done = True
    return done


def _chunk(payloads: list[bytes], start: int) -> list[bytes]:
    """The values of ``send_many``'s next script call: up to ``CHUNK`` of them, and
    ``CHUNK_BYTES`` (at least one)."""
    chunk: list[bytes] = []
    size = 0
    for payload in payloads[start : start + CHUNK]:
        size += len(payload)
        if chunk and size > CHUNK_BYTES:
            break
        chunk.append(payload)
    return chunk


def _dumps_noting(value: object) -> tuple[bytes, list[Lease]]:
    """``_dumps``, and the travel leases its handles took (ended if the send fails: the side
    would otherwise stay alive for ``TRAVEL`` seconds with nobody holding it; review 2, 04)."""
    travels: list[Lease] = []
    _pickling.travels = travels
    try:
        return _dumps(value), travels
    except TypeError:  # (unpicklable, after some of its handles were pickled)
        _end_travels(travels)
        raise
    finally:
        _pickling.travels = None


def _end_travels(travels: list[Lease]) -> None:
    for travel in travels:
        travel.release(1.0)


def _dumps(value: object) -> bytes:
    try:
        return pickle.dumps(value, protocol=5)
    except Exception as exc:
        raise TypeError(f"mpsc.redis sends pickled values; this one cannot be pickled: {exc}") from exc


del sys
