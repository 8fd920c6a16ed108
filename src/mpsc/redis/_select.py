"""A Redis channel's handle as an operation of ``mpsc.select``, ``mpsc.Select`` and
``mpsc.select_async``, beside thread channels, process channels and timers.

It takes part as a process channel does (``mpsc.process._select``): it never completes a queued
waiter. Its operation is tried only in the selecting thread's pass over the ready operations —
the handle's own ``try_recv``/``try_send``, one round trip — and while the select sleeps it
gives the waiter one file descriptor to watch: the socket of a connection of its own on which
it has sent a *blocking read* that returns as soon as the operation may have become possible:

* a receive: ``XREAD BLOCK`` on the channel's stream and its ``ctl`` stream, from the ids the
  try saw last (so an entry appended since that try wakes it at once: no lost wake-up), woken by
  a send, an offer on a rendezvous channel, or a side going;
* a send on a full bounded channel: ``BLPOP`` of the ``space`` tokens that acknowledgements
  push; on a rendezvous channel, of the token a receiver pushes as it starts waiting in
  ``recv``. (A select that takes a token and then completes another operation has used up that
  wake-up: senders blocked in ``send`` re-check within a lease anyway.) An unbounded send never
  waits.

The blocking read lasts a lease (``lease`` seconds), after which the select looks again (so a
lease lost or a handle closed by another thread is noticed within a lease); nothing polls
faster. When the round ends the reply is read if it came, else the connection is dropped (the
read had no effect on the server, but for the token a ``BLPOP`` may have taken).

Claim-once is the process channels' rule: in one round either a thread channel claimed the
waiter (and no Redis operation was tried since it was queued) or the sleeper claimed it and
looks again, and a look completes at most one operation. A losing ready Redis operation is not
consumed: the try pass stops at the first operation that completes.

Limits: a try is a blocking round trip, also in ``select_async`` (made from the event loop's
thread; a server that cannot be reached holds the loop for the retry window); an exception
landing (Ctrl-C) inside a try of a receive can lose the value it took (the receive itself
returns it with the exception raised right after, but that lands in the select's code, not
the caller's: untested here); a select waiting to *receive* on a rendezvous channel does not announce itself,
so it pairs with senders blocked in ``send`` (which post offers), and a select waiting to
*send* pairs with receivers blocked in ``recv``: two selects on the two ends of one Redis
rendezvous channel never meet; trio is not supported (asyncio only).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import redis.exceptions

from .._core import NOTHING
from .._errors import Full
from .._ownership import CLOSED
from ..process._waiting import READABLE
from ._handles import EmptyAt

if TYPE_CHECKING:
    from .._core import Entry
    from ._handles import Receiver, Sender

_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class Source:
    """A receive from a Redis Receiver, or a send on a Redis Sender, in a select."""

    __slots__ = ("_marks", "_rounds", "handle", "lock", "sending", "watch_slice")

    watches_fds = True
    kind = "redis channel"

    def __init__(self, handle: Receiver[Any] | Sender[Any], sending: bool) -> None:
        self.handle = handle
        self.sending = sending
        self.lock = threading.Lock()  # (Wait.join and Wait.leave hold it around enqueue and dequeue)
        self._rounds: dict[Entry, Any] = {}  # a waiting round's connection, by queue entry
        self._marks = threading.local()  # what this thread's last try saw: where XREAD starts
        # The blocking read lasts a lease; the sleeper looks again a little after, at the latest.
        self.watch_slice = handle._chan.ttl + 1.0

    @property
    def _chan(self) -> Any:
        """What ``mpsc._ownership.is_open`` compares: this Source while its handle is open."""
        return self if not self.handle._lease.closed else CLOSED

    # -- the attempts (try_ops) ----------------------------------------------------------------

    def may_recv(self) -> bool:
        return True  # the attempt is one round trip: make it

    def may_send(self) -> bool:
        return True

    def due(self) -> None:
        return None

    def poll(self) -> Any:
        """``try_recv``: the value, or ``NOTHING``; ``RecvError`` once none ever will come."""
        try:
            return self.handle._recv(None, True)  # type: ignore[union-attr]
        except EmptyAt as empty:
            self._marks.seen = empty.marks
            return NOTHING

    def offer(self, value: Any) -> bool:
        """``try_send``: True if sent; False if it would wait; ``SendError`` with no receiver."""
        try:
            self.handle._send(value, None, True)  # type: ignore[union-attr]
        except Full:
            return False
        return True

    # -- one round of waiting (Wait.join, Wait.leave) --------------------------------------------

    def _blocking_read(self) -> list[Any] | None:
        """The command whose reply means "look again"; None if this operation never waits."""
        handle = self.handle
        keys = handle._lease.keys
        seconds = handle._chan.ttl
        if self.sending:
            if handle._chan.capacity is None:
                return None  # an unbounded send always completes (or fails) at once
            return ["BLPOP", keys.space, round(seconds, 3)]
        last, lastctl = getattr(self._marks, "seen", (b"$", b"$"))
        ms = max(1, int(seconds * 1000))
        return ["XREAD", "COUNT", 1, "BLOCK", ms, "STREAMS", keys.stream, keys.ctl, last, lastctl]

    def enqueue_locked(self, entry: Entry) -> None:
        """The waiter is about to sleep: send the blocking read on a connection of this round,
        and have the waiter watch its socket."""
        watch: list[tuple[int, int]] | None = getattr(entry.waiter, "watch", None)
        if watch is None:
            raise RuntimeError("select_async over mpsc.redis channels runs on asyncio only, not under trio")
        self.handle._open()  # (raises ClosedHandleError, LeaseExpiredError)
        command = self._blocking_read()
        if command is None:
            return
        pool: Any = self.handle._chan.link._sync_pool()  # (redis-py's connection methods are untyped)
        conn = pool.get_connection()
        self._rounds[entry] = conn  # first: an interrupt below still lets dequeue release it
        try:
            conn.send_command(*command)
        except _UNREACHABLE:
            # Not reachable now: nothing to watch; the next look (within the slice) tries the
            # operation, which retries and reports ConnectionError after RETRY_FOR seconds.
            return
        watch.append((conn._sock.fileno(), READABLE))

    def dequeue_locked(self, entry: Entry) -> None:
        """The round is over: read the blocking read's reply if it came, else drop its
        connection. Restartable."""
        conn = self._rounds.get(entry)
        if conn is None:
            return
        pool: Any = self.handle._chan.link._sync_pool()
        try:
            if conn._sock is not None and conn.can_read(timeout=0):
                conn.read_response()
            else:
                conn.disconnect()  # the server drops the blocked read with the connection
        except Exception:  # (a reply cut off, an error reply: the connection is not reused)
            conn.disconnect()
        del self._rounds[entry]
        pool.release(conn)

    def describe(self) -> str:
        return repr(self.handle)


__all__ = ["Source"]
