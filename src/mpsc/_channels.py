"""The constructors: each makes one channel and returns its first Sender and Receiver."""

from __future__ import annotations

import operator
from typing import TypeVar

from ._buffered import Bounded, Unbounded
from ._core import Chan
from ._handles import Receiver, Sender
from ._rendezvous import Rendezvous

T = TypeVar("T")


def _pair(chan: Chan[T]) -> tuple[Sender[T], Receiver[T]]:
    return Sender(chan), Receiver(chan)


def channel() -> tuple[Sender[T], Receiver[T]]:
    """An unbounded channel: ``send`` never waits.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Examples:
        >>> tx, rx = channel()
        >>> tx.send("hi")
        >>> rx.recv()
        'hi'
    """
    return _pair(Unbounded())


def unbounded() -> tuple[Sender[T], Receiver[T]]:
    """The same as [`channel`][mpsc.channel] (crossbeam's name).

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.
    """
    return _pair(Unbounded())


def sync_channel(bound: int) -> tuple[Sender[T], Receiver[T]]:
    """A channel buffering at most ``bound`` messages; ``send`` waits while it is full.

    ``bound == 0`` makes a rendezvous channel: ``send`` returns only once a receiver has
    taken the value, and ``try_send`` succeeds only if a receiver is waiting.

    Args:
        bound: The most messages the channel holds, ``>= 0``.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        TypeError: ``bound`` is not an int (or is a bool).
        ValueError: ``bound`` is negative.

    Examples:
        >>> tx, rx = sync_channel(1)
        >>> tx.send(1)
        >>> tx.is_full()
        True
    """
    bound = checked_capacity(bound)
    return _pair(Rendezvous() if bound == 0 else Bounded(bound))


def checked_capacity(bound: object) -> int:
    """``bound`` as a capacity: an int (not a bool) ``>= 0``; ``TypeError``/``ValueError`` else."""
    if isinstance(bound, bool):
        raise TypeError("capacity must be an int, not bool")
    try:
        capacity = operator.index(bound)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"capacity must be an int, not {type(bound).__name__}") from None
    if capacity < 0:
        raise ValueError(f"capacity must be >= 0, got {capacity}")
    return capacity


def bounded(capacity: int) -> tuple[Sender[T], Receiver[T]]:
    """The same as [`sync_channel`][mpsc.sync_channel] (crossbeam's name).

    Args:
        capacity: The most messages the channel holds, ``>= 0``; 0 makes a rendezvous channel.

    Returns:
        The channel's first ``(Sender, Receiver)`` pair.

    Raises:
        TypeError: ``capacity`` is not an int (or is a bool).
        ValueError: ``capacity`` is negative.
    """
    return sync_channel(capacity)
