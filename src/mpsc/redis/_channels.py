"""The constructors: each makes (or, given a name, opens) a channel on a Redis server and
returns a new Sender and Receiver of it."""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Final, TypeVar

from . import _lua
from ._errors import ConnectionError, ServerError
from ._handles import Receiver, Sender, _Channel
from ._keys import Keys, check_name, check_url, public_url
from ._leases import Lease, evalsha, fixed, keep_ms
from ._link import Expired, link, remember, script

T = TypeVar("T")

LEASE: Final = 1.5
"""Default lease, in seconds: a handle whose process dies (or is cut off from the server) is
counted as gone at most ``1.25 * LEASE`` seconds later (under 2 s)."""

_JOIN: Final = script(_lua.JOIN)


def _lease_seconds(lease: object) -> float:
    if isinstance(lease, bool) or not isinstance(lease, numbers.Real):
        raise TypeError(f"lease must be a number of seconds, not {type(lease).__name__}")
    seconds = float(lease)
    if math.isnan(seconds) or not 0.1 <= seconds <= 3600:
        raise ValueError(f"lease must be between 0.1 and 3600 seconds, got {lease!r}")
    return seconds


def _stored(capacity: int | None) -> int:
    """The capacity as the server keeps it: 0 unbounded, -1 rendezvous."""
    if capacity is None:
        return 0
    return capacity or -1


def _make(
    url: str, capacity: int | None, name: str | None, lease: float, travel_secrets: bool
) -> tuple[Sender[Any], Receiver[Any]]:
    url = check_url(url)
    ttl = _lease_seconds(lease)
    mode = "new" if name is None else "open"
    chan_name = check_name(name)
    the_link = link(url)
    remember(url)
    keys = Keys(chan_name)
    tx = Lease(the_link, keys, "tx", ttl)
    rx = Lease(the_link, keys, "rx", ttl)
    keep = keep_ms(ttl)
    try:
        reply = the_link.call(
            fixed(evalsha(_JOIN, keys, mode, _stored(capacity), int(ttl * 1000), keep, tx.id, rx.id)), None
        )
    except Expired:  # pragma: no cover (no deadline)
        raise ConnectionError() from None
    except ServerError as exc:
        if "DB index" in exc.message:  # a database the server does not have: a bad URL
            raise ValueError(f"bad Redis URL {public_url(url)!r}: {exc.message}") from None
        raise
    the_link.saw(reply[0])
    status = bytes(reply[1])
    if status == b"taken":
        kind = bytes(reply[2]).decode()
        raise ValueError(
            f"the name {chan_name!r} is already used on this server by a key that is not an mpsc channel "
            f"(a {kind})"
        )
    if status == b"exists":  # pragma: no cover (a random name met another)
        raise ValueError(f"a channel named {chan_name!r} already exists")
    if status == b"ended":
        raise ValueError(f"the channel {chan_name!r} exists and is disconnected (a side is gone for good)")
    if status == b"capacity":
        stored = int(reply[2])
        there = None if stored == 0 else max(stored, 0)
        raise ValueError(f"the channel {chan_name!r} exists with capacity {there}, not {capacity}")
    ttl = int(reply[3]) / 1000
    tx.ttl = rx.ttl = ttl
    chan = _Channel(the_link, keys, capacity, ttl, travel_secrets)
    return Sender._new(chan, tx), Receiver._new(chan, rx)


def channel(
    url: str, name: str | None = None, *, lease: float = LEASE, travel_secrets: bool = False
) -> tuple[Sender[T], Receiver[T]]:
    """An unbounded channel on the Redis server at ``url``: ``(Sender, Receiver)``.

    With a ``name``, the channel is that stream on the server, made if missing, else opened
    (a new Sender and Receiver of the existing channel; ``ValueError`` if its capacity differs
    or a side of it is gone for good). Without one, a new channel with a random name.
    ``lease`` (seconds) is how soon the other side notices a handle whose process died; set
    by whoever makes the channel. ``travel_secrets=True`` lets pickled handles carry the
    URL's password and TLS key paths; otherwise they carry the URL without them, and the
    process that unpickles them uses the full URL it knows (it made or opened a channel on
    that server, or called :func:`mpsc.redis.credentials`).

    Args:
        url: The server's URL (``redis://``, ``rediss://`` or ``unix://``, as redis-py takes it).
        name: The channel's name on the server; None for a new channel with a random name.
        lease: Seconds a handle's lease lasts without renewal (0.1 to 3600).
        travel_secrets: Whether pickled handles carry the URL's password and TLS key paths.

    Returns:
        A new ``(Sender, Receiver)`` pair of the channel.

    Raises:
        ValueError: A bad URL or lease; a name used by another kind of key; a named channel
            that exists with another capacity, or one of whose sides is gone for good.
        TypeError: ``url`` is not a str, or ``lease`` not a number.
        mpsc.redis.ConnectionError: The server cannot be reached.
    """
    return _make(url, None, name, lease, travel_secrets)


def unbounded(
    url: str, name: str | None = None, *, lease: float = LEASE, travel_secrets: bool = False
) -> tuple[Sender[T], Receiver[T]]:
    """The same as :func:`channel`."""
    return _make(url, None, name, lease, travel_secrets)


def sync_channel(
    url: str, bound: int, name: str | None = None, *, lease: float = LEASE, travel_secrets: bool = False
) -> tuple[Sender[T], Receiver[T]]:
    """A channel holding at most ``bound`` messages (exactly: a script checks the length
    before each append); ``send`` waits while it is full. ``bound == 0`` is a rendezvous:
    ``send`` returns only once a receiver has taken the value, ``try_send`` succeeds only if a
    receiver is waiting in ``recv`` right now (see ``mpsc.redis`` for what happens when a
    process dies mid-hand-off). Other arguments as :func:`channel`.

    Args:
        url: The server's URL.
        bound: The most messages the channel holds; 0 for a rendezvous.
        name: The channel's name on the server; None for a new channel with a random name.
        lease: Seconds a handle's lease lasts without renewal (0.1 to 3600).
        travel_secrets: Whether pickled handles carry the URL's password and TLS key paths.

    Returns:
        A new ``(Sender, Receiver)`` pair of the channel.

    Raises:
        ValueError: ``bound`` is negative; otherwise as :func:`channel`.
        TypeError: ``bound`` is not an int, ``url`` not a str, or ``lease`` not a number.
        mpsc.redis.ConnectionError: The server cannot be reached.
    """
    if isinstance(bound, bool):
        raise TypeError("capacity must be an int, not bool")
    try:
        bound = operator.index(bound)
    except TypeError:
        raise TypeError(f"capacity must be an int, not {type(bound).__name__}") from None
    if bound < 0:
        raise ValueError(f"capacity must be >= 0, got {bound}")
    return _make(url, bound, name, lease, travel_secrets)


def bounded(
    url: str, capacity: int, name: str | None = None, *, lease: float = LEASE, travel_secrets: bool = False
) -> tuple[Sender[T], Receiver[T]]:
    """The same as :func:`sync_channel`."""
    return sync_channel(url, capacity, name, lease=lease, travel_secrets=travel_secrets)


def credentials(url: str) -> None:
    """Give this process the full URL (password, TLS keys) of a server, for the handles that
    arrive pickled without them.

    Args:
        url: The server's URL, with its password and TLS key paths.

    Raises:
        ValueError: A bad URL.
        TypeError: ``url`` is not a str.
    """
    remember(check_url(url))
