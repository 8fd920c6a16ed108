"""Leases: how the server knows which handles are alive, and the thread that keeps them so.

Each handle holds one :class:`Lease` (an id in its side's sorted set, scored by its expiry on
the channel's lease clock; see ``_lua``). One daemon thread per server and process renews every
lease it holds there, one script call per channel, every quarter of the shortest lease; the same call prunes
expired leases of both sides, so a survivor notices a dead peer within a lease and a quarter
and wakes its blocked calls (the scripts post to the channel's ``ctl`` stream or push
``space`` tokens). A renewal that finds its lease gone marks it lost: the handle then raises
``LeaseExpiredError``.

``valid_until`` is a local, conservative bound: a lease renewed by a call *sent* at monotonic
time ``t`` lives on the server until at least ``t + ttl`` (the lease clock never runs faster
than real time), so a receiver hands out prefetched entries only before ``valid_until``
(``t + 0.9 ttl``), after which another receiver could have claimed them.

The same thread watches receivers that hold fetched entries: one that has not received for
``IDLE`` gives them back to its peers (``Receiver._give_back``), checked every ``IDLE`` while
any is held; and it acknowledges what bounded receivers handed out, ``ACK_DELAY`` after their
receive returned (``ack_soon``). The threads that receive wake it through a ``SimpleQueue``
(one C call, not ``Event.set``, whose Python-level lock an exception landing in it can leave
held, stopping this thread for good).

Handles collected without ``close()`` are released by this thread; at interpreter exit every
lease still held is released (best effort, within about a second). A forked child does not
inherit leases: the handles it inherited refuse to work there (pickle a handle to pass it).
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from . import _lua
from ._keys import Keys
from ._link import Link, Script, script

_RENEW: Final = script(_lua.RENEW)
_CLOSE: Final = script(_lua.CLOSE)
_ACK: Final = script(_lua.ACK)

IDLE: Final = 0.01
"""Seconds after which a receiver that has not received gives back what it fetched and did not
hand out (``_lua.GIVE``, from this thread): other receivers get it (review 2, finding 08)."""

ACK_DELAY: Final = 0.002
"""Seconds after a bounded receive returned by which this thread acknowledges its entry, unless
the receiver's next fetch carried the acknowledgement first. A bounded receive returns before
acknowledging: the entry stays pending under its receiver until the caller has the value, so a
receiver killed before that loses nothing (review 2, finding 05); the room it leaves appears
within this delay and a round trip, once this thread gets to run (a call that holds the GIL
delays it: review 3, finding 07)."""

KEEP_LEASES: Final = 10
KEEP_AT_LEAST: Final = 3600.0
"""A channel's keys outlive its last renewal by ``KEEP_LEASES`` leases, and at least this many
seconds. Redis expires keys on the wall clock, while a server is paused or restarting too (an
AOF stores absolute expiry times): the keys must outlast any outage the lease clock is meant to
ride out, or the channel and its messages are gone when the server is back (it was 10 s:
review 2, finding 13). They only clean up after channels whose every process died."""


def keep_ms(ttl: float) -> int:
    """How long (ms) a channel of lease ``ttl`` keeps its keys after its last renewal."""
    return int(max(KEEP_AT_LEAST, KEEP_LEASES * ttl) * 1000)


def evalsha(s: Script, keys: Keys, *argv: object) -> list[object]:
    """The command that runs script ``s`` on a channel's keys."""
    return ["EVALSHA", s.sha, len(keys.all), *keys.all, *argv]  # (str ids and ints: redis-py encodes them)


def evalsha_with(s: Script, keys: Keys, extra: bytes, *argv: object) -> list[object]:
    """``evalsha`` with one more key (a rendezvous sender's ack list, ``KEYS[9]``)."""
    return ["EVALSHA", s.sha, len(keys.all) + 1, *keys.all, extra, *argv]


def fixed(command: Sequence[Any]) -> Callable[[float, int], Sequence[Any]]:
    """A command that is the same for every attempt."""
    return lambda give_up, attempt: command


class Lease:
    """One handle's lease. ``acks`` (receivers) are entries handed out and not yet
    acknowledged on the server; they are acknowledged with the next call, or at release.
    ``lanes`` (senders) are the sequence fields of the extra lanes, forgotten at release."""

    __slots__ = (
        "ack_by",
        "acks",
        "acks_lock",
        "closed",
        "done",
        "give_back",
        "handing",
        "id",
        "keys",
        "lanes",
        "link",
        "lost",
        "pid",
        "side",
        "ttl",
        "valid_until",
        "watched",
    )

    def __init__(self, link: Link, keys: Keys, side: str, ttl: float, lease_id: str | None = None) -> None:
        self.link = link
        self.keys = keys
        self.side = side
        self.ttl = ttl
        self.id = lease_id or os.urandom(8).hex()
        self.pid = os.getpid()
        self.lost = False
        self.closed = False
        self.done = False
        self.valid_until = time.monotonic() + 0.9 * ttl
        self.acks: list[bytes] = []
        self.acks_lock = threading.Lock()
        self.ack_by = 0.0  # (monotonic) when the lease thread acknowledges ``acks`` (ack_soon)
        # The entry a receive took and has not returned yet (listed in ``acks``): no other
        # thread acknowledges it before the caller has it (review 2, finding 05).
        self.handing: bytes | None = None
        self.lanes: list[str] = []
        # A receiver's idle check (a weak method: True while there is something to give back
        # later), and whether the lease thread watches it (cleared under the receive lock).
        self.give_back: Callable[[], Callable[[], bool] | None] | None = None
        self.watched = False

    def handed(self, entry_id: bytes) -> None:
        """An entry was handed out: acknowledge it with the next call."""
        with self.acks_lock:
            self.acks.append(entry_id)

    def pending_acks(self, returned: bool = False) -> list[bytes]:
        """The entries to acknowledge now (``returned``: but the one a receive is handing out).
        They stay listed until a call that acknowledged them confirms it (``acked``): a call
        that fails, or is interrupted anywhere, loses none of them (acknowledging twice is
        harmless)."""
        with self.acks_lock:
            if returned and self.handing is not None:
                return _without(self.acks, {self.handing})
            return list(self.acks)

    def acked(self, acks: list[bytes]) -> None:
        """A call acknowledged ``acks`` on the server."""
        if acks:
            gone = set(acks)
            with self.acks_lock:
                self.acks = _without(self.acks, gone)

    def renewed(self, sent_at: float) -> None:
        self.valid_until = max(self.valid_until, sent_at + 0.9 * self.ttl)

    def release(self, timeout: float) -> None:
        """End the lease on the server (acknowledging what was handed out). Errors reaching
        the server are swallowed: the lease then expires by itself.

        ``closed`` is set first, under ``acks_lock``: from then on a receiver hands nothing out
        (``Receiver`` checks it under the same lock), so the acknowledgements sent here are the
        final ones. An exception landing before ``done`` leaves the lease with the renewal
        thread, which finishes the release (``_Renewer.renew_all``): an interrupted ``close()``
        still ends the lease at once, and nothing it had acknowledged is delivered again."""
        if self.pid != os.getpid():
            # Inherited through fork: the parent's lease, and its lock may have been copied
            # held by a parent thread (review 4, finding 04). Nothing here to end, lock or
            # drop (this process's renewers never held it: ``_Renewers.forked``).
            self.closed = self.done = True
            return
        with self.acks_lock:
            self.closed = True
        if self.done:
            renewer.drop(self)
            return
        if self.lost:
            self.done = True
            renewer.drop(self)
            return
        extra = self.pending_acks() if self.side == "rx" else list(self.lanes)
        deadline = time.monotonic() + timeout
        try:
            self.link.call(fixed(evalsha(_CLOSE, self.keys, self.side, self.id, *extra)), deadline)
        except Exception:
            pass  # the lease expires by itself; entries handed out are then delivered again
        self.done = True
        renewer.drop(self)


# Loops over what a lock guards, each in a function of its own: on 3.13 a loop's back edge
# inside a ``with`` can let an exception skip the lock's release.


def _without(acks: list[bytes], gone: set[bytes]) -> list[bytes]:
    return [a for a in acks if a not in gone]


def _ttls(leases: dict[str, Lease]) -> list[float]:
    return [lease.ttl for lease in leases.values()]


def _earliest(due: dict[str, Lease]) -> float:
    return min(lease.ack_by for lease in due.values())


def _ripe(due: dict[str, Lease], now: float) -> list[Lease]:
    """The leases whose acknowledgements are due by ``now``, taken out of ``due``."""
    ripe = [lease for lease in due.values() if lease.ack_by <= now]
    for lease in ripe:
        del due[lease.id]
    return ripe


def _unacked(leases: dict[str, Lease], name: str) -> list[Lease]:
    # (``handing`` is filtered by ``pending_acks(returned=True)``)
    return [x for x in leases.values() if x.side == "rx" and x.acks and x.keys.name == name and not x.closed]


def _drain(wake: queue.SimpleQueue[None]) -> None:
    """Empty the lease thread's wake-up queue (each wake-up is one item; only this thread takes
    from it, so each ``get`` finds one; one put meanwhile waits for the next round). No ``try``
    around the loop: see ``mpsc._ops.recorded`` on 3.13's back edges."""
    for _ in range(wake.qsize()):
        wake.get_nowait()


def _sorted_out(leases: dict[str, Lease]) -> tuple[list[Lease], dict[tuple[int, str], list[Lease]]]:
    """The leases whose close() was interrupted midway (finished by the renewal thread), and the
    live ones grouped by server and channel (one renewal each)."""
    unfinished: list[Lease] = []
    groups: dict[tuple[int, str], list[Lease]] = {}
    for lease in leases.values():
        if lease.closed:
            unfinished.append(lease)
        elif not lease.lost:
            groups.setdefault((id(lease.link), lease.keys.name), []).append(lease)
    return unfinished, groups


class _Renewer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self.leases: dict[str, Lease] = {}
        self.released: list[Lease] = []
        self.thread: threading.Thread | None = None
        self.period = 1.0  # of the thread's current sleep
        self.watched: dict[str, Lease] = {}  # receivers holding fetched entries
        self.due: dict[str, Lease] = {}  # receivers with acknowledgements due (ack_soon)

    def add(self, lease: Lease) -> None:
        with self.lock:
            self.leases[lease.id] = lease
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="mpsc.redis leases", daemon=True)
                self.thread.start()
            elif lease.ttl / 4 < self.period:
                # The thread sleeps longer than this lease allows (it had none this short, or
                # none at all: a whole second): it wakes now and sleeps by this lease from now on.
                self.wake.put(None)

    def drop(self, lease: Lease) -> None:
        with self.lock:
            self.leases.pop(lease.id, None)
            self.watched.pop(lease.id, None)

    def watch(self, lease: Lease) -> None:
        """A receive left fetched entries in its handle's buffer: checked every ``IDLE`` until
        they are handed out or given back. (Listed first: an interrupt between the two leaves
        it watched, and the next receive sets the flag again.)"""
        with self.lock:
            self.watched[lease.id] = lease
            lease.watched = True
        self.wake.put(None)

    def ack_soon(self, lease: Lease) -> None:
        """A bounded receive returned what ``lease`` has not acknowledged: acknowledged from
        this thread ``ACK_DELAY`` from now, unless the receiver's next fetch carries it first
        (each call moves the instant on: a receiver receiving in a loop is not doubled). The
        thread is woken only when nothing else was due (it wakes for that within the delay);
        the wake is put inside the lock, with no check point after the listing: an exception
        landing cannot leave a lease listed with the thread asleep past it."""
        ack_by = time.monotonic() + ACK_DELAY
        with self.lock:
            lease.ack_by = ack_by
            wake = not self.due
            self.due[lease.id] = lease
            if wake:
                self.wake.put(None)

    def collected(self, lease: Lease) -> None:
        """From a handle's finalizer: release its lease from this thread (no I/O there)."""
        with self.lock:
            self.released.append(lease)
        self.wake.put(None)

    def _run(self) -> None:
        renewed = time.monotonic()
        while True:
            with self.lock:
                ttls = _ttls(self.leases)
                period = self.period = max(0.02, min(ttls) / 4) if ttls else 1.0
                watching = bool(self.watched)
                ack_by = _earliest(self.due) if self.due else None
            now = time.monotonic()
            wait = renewed + period - now
            if watching:
                wait = min(wait, IDLE)
            if ack_by is not None:
                wait = min(wait, ack_by - now)
            if wait > 0:
                try:
                    self.wake.get(timeout=wait)
                except queue.Empty:
                    pass
            _drain(self.wake)
            with self.lock:
                released, self.released = self.released, []
            for lease in released:
                lease.release(1.0)
            if self.due:
                self.ack_due()
            if self.watched:
                self.give_back_idle()
            # (A wake for a shorter lease shortens ``period``: renewed now if it is due.)
            if released or time.monotonic() >= renewed + self.period:
                renewed = time.monotonic()
                self.renew_all()

    def unacked(self, name: str) -> list[Lease]:
        """The receivers of channel ``name`` this thread renews that handed out entries not
        acknowledged yet."""
        with self.lock:
            return _unacked(self.leases, name)

    def ack_due(self) -> None:
        """Acknowledge what bounded receivers handed out ``ACK_DELAY`` ago (``ack_soon``)."""
        with self.lock:
            ripe = _ripe(self.due, time.monotonic())
        for lease in ripe:
            if lease.acks and not lease.closed and not lease.lost:
                self.flush(lease)

    def give_back_idle(self) -> None:
        """Let each watched receiver give back what it holds once idle (``Receiver._give_back``)."""
        with self.lock:
            watched = list(self.watched.values())
        for lease in watched:
            ref = lease.give_back
            check = ref() if ref is not None else None
            keep = False
            if check is not None:
                try:
                    keep = check()
                except Exception:  # pragma: no cover (its next receive watches it again)
                    lease.watched = False
            if not keep:
                with self.lock:
                    if not lease.watched or check is None:
                        self.watched.pop(lease.id, None)

    def renew_all(self) -> None:
        with self.lock:
            unfinished, groups = _sorted_out(self.leases)
        for lease in unfinished:
            lease.release(1.0)
        for leases in groups.values():
            first = leases[0]
            tx = [lease.id for lease in leases if lease.side == "tx"]
            rx = [lease.id for lease in leases if lease.side == "rx"]
            keep = keep_ms(first.ttl)
            sent_at = time.monotonic()
            try:
                reply = first.link.call(
                    fixed(evalsha(_RENEW, first.keys, keep, len(tx), *tx, *rx)), sent_at + first.ttl / 4
                )
            except Exception:  # unreachable now: try again next round (the leases may expire)
                continue
            first.link.saw(reply[0])
            lost = {bytes(x).decode() for x in reply[2]}
            for lease in leases:
                if lease.id in lost:
                    lease.lost = True
                else:
                    lease.renewed(sent_at)
                    if lease.acks:
                        self.flush(lease)

    def flush(self, lease: Lease) -> None:
        """Acknowledge what an idle receiver handed out (so that a receiver that stopped
        receiving does not hold other receivers' RecvError, nor has them redelivered if it dies
        later)."""
        acks = lease.pending_acks(returned=True)
        if not acks:
            return
        try:
            reply = lease.link.call(
                fixed(evalsha(_ACK, lease.keys, lease.id, *acks)), time.monotonic() + lease.ttl / 2
            )
        except Exception:
            return
        if bytes(reply[1]) == b"lost":
            lease.lost = True
        else:
            lease.acked(acks)

    def at_exit(self) -> None:
        with self.lock:
            leases = list(self.leases.values()) + self.released
            self.released = []
        deadline = time.monotonic() + 1.0
        for lease in leases:
            lease.release(max(0.05, deadline - time.monotonic()))

    def forked(self) -> None:
        # The child holds none of the parent's leases (its handles refuse to work, by pid).
        self.lock = threading.Lock()
        self.wake = queue.SimpleQueue()
        self.leases = {}
        self.released = []
        self.thread = None
        self.period = 1.0
        self.watched = {}
        self.due = {}


class _Renewers:
    """One renewal thread per server (Link): a server that is down or paused delays only the
    renewals of its own channels, not those on other servers."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_link: dict[int, _Renewer] = {}

    def of(self, link: Link) -> _Renewer:
        with self.lock:
            found = self.by_link.get(id(link))
            if found is None:
                found = self.by_link[id(link)] = _Renewer()
            return found

    def add(self, lease: Lease) -> None:
        self.of(lease.link).add(lease)

    def drop(self, lease: Lease) -> None:
        self.of(lease.link).drop(lease)

    def collected(self, lease: Lease) -> None:
        self.of(lease.link).collected(lease)

    def watch(self, lease: Lease) -> None:
        self.of(lease.link).watch(lease)

    def ack_soon(self, lease: Lease) -> None:
        self.of(lease.link).ack_soon(lease)

    def unacked(self, name: str) -> list[Lease]:
        """This process's receivers of channel ``name`` with acknowledgements due, whatever URL
        their handles were opened with (the same server can be spelt several ways; a channel
        of that name on another server only gets its own due acknowledgements early)."""
        with self.lock:
            every = list(self.by_link.values())
        found: list[Lease] = []
        for one in every:
            found += one.unacked(name)
        return found

    def at_exit(self) -> None:
        with self.lock:
            every = list(self.by_link.values())
        for one in every:
            one.at_exit()

    def forked(self) -> None:
        self.lock = threading.Lock()
        self.by_link = {}


renewer: Final = _Renewers()
atexit.register(renewer.at_exit)
os.register_at_fork(after_in_child=renewer.forked)
