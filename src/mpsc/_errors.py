"""The exception hierarchy: Rust's error enums as classes, so ``except`` works at either level.

Rust returns ``TrySendError::Full(v)`` or ``TrySendError::Disconnected(v)``; here ``Full`` and
``SendError`` both derive from ``TrySendError``, so ``except TrySendError`` catches the enum and
``except Full`` one variant. Each error that gives Rust's value back carries it as ``.value``.
"""

from __future__ import annotations

import queue
from typing import Any


class ChannelError(Exception):
    """Base of every error a channel operation reports.

    Attributes:
        index: On a ``RecvError`` or ``SendError`` that an operation of a select raised, that
            operation's position; None otherwise (also on a select's ``Timeout``/``Empty``).
    """

    message = "channel error"
    index: int | None = None

    def __str__(self) -> str:
        return self.message


class _CarriesValue(ChannelError):
    """A send-side error: the value that was not sent is handed back as ``.value``."""

    def __init__(self, value: Any = None) -> None:
        super().__init__(value)
        self.value: Any = value


class TrySendError(_CarriesValue):
    """``try_send`` could not send: the channel is full (``Full``) or has no receiver (``SendError``).

    Attributes:
        value: The value that was not sent.
    """

    message = "could not send on the channel"


class SendTimeoutError(_CarriesValue):
    """A timed send could not send: time ran out (``Timeout``) or no receiver is left (``SendError``).

    Attributes:
        value: The value that was not sent.
    """

    message = "could not send on the channel in time"


class TryRecvError(ChannelError):
    """``try_recv`` got nothing: the channel is empty (``Empty``) or done for good (``RecvError``)."""

    message = "could not receive from the channel"


class RecvTimeoutError(ChannelError):
    """A timed receive got nothing: time ran out (``Timeout``) or the channel is done (``RecvError``)."""

    message = "could not receive from the channel in time"


class SendError(TrySendError, SendTimeoutError):
    """Every receiver is gone, so the value can never be received; it is handed back as ``.value``.

    Attributes:
        value: The value that was not sent.
    """

    message = "sending on a disconnected channel"


class Full(TrySendError, queue.Full):
    """``try_send`` found a bounded channel full (a rendezvous channel: no receiver waiting).

    Attributes:
        value: The value that was not sent.
    """

    message = "sending on a full channel"


class RecvError(TryRecvError, RecvTimeoutError):
    """The channel is empty and every sender is gone: nothing will ever arrive."""

    message = "receiving on an empty and disconnected channel"

    def __init__(self) -> None:
        super().__init__()


class Empty(TryRecvError, queue.Empty):
    """Nothing to receive now: ``try_recv`` on an empty channel that senders (or a timer)
    may still fill, or a non-blocking select with no operation ready."""

    message = "receiving on an empty channel"

    def __init__(self) -> None:
        super().__init__()


class Timeout(RecvTimeoutError, SendTimeoutError, TimeoutError):
    """The timeout or deadline passed first. After ``send_timeout``/``send_deadline``,
    ``.value`` holds the value not sent (None after a select, whose operations keep theirs).

    Attributes:
        value: After ``send_timeout``/``send_deadline``, the value that was not sent; None
            otherwise.
    """

    message = "timed out waiting on the channel"


class ClosedHandleError(ValueError):
    """A handle was used after its own ``close()`` (or after ``spawn`` moved it into a thread).

    A ``ValueError``, as for an operation on a closed file: it is a programming error, not a
    state of the channel, so it is not a ``ChannelError`` and ``except RecvError`` does not
    swallow it.
    """
