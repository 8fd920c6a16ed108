"""Sender and Receiver: the handles through which a channel is used and owned.

A handle is one owner of its side of the channel. ``close()`` — or leaving its ``with`` block,
or the handle being garbage-collected, as Rust drops it — releases it; ``clone()`` makes
another owner. The channel disconnects for receivers once every Sender is released, and for
senders once every Receiver is released (``_ownership``).

The handles are thin: every call goes to its channel's ``offer``/``poll`` (which do the
lock-free step, see ``_buffered``) and, when that would have to wait, to ``_ops``, which waits.
Each returns what those return, directly: an exception held back until a call has returned
(see ``_interrupts``) is raised in the caller's frame, after it has the result.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ClassVar, Generic, NoReturn, Self, TypeVar

from . import _ops
from ._buffered import withdrawn_error
from ._core import NO_DEQUE, NOTHING, RECEIVERS, SENDERS, Chan
from ._deadlines import checked_deadline, deadline_after
from ._errors import Empty, Full, RecvError
from ._interrupts import finish
from ._ownership import (
    MOVED,
    Scoped,
    clone,
    is_closed_marker,
    move,
    open_channel,
    release,
    release_after,
    release_collected,
    unmove,
)

T = TypeVar("T")


class _Handle(Scoped, Generic[T]):
    """What Sender and Receiver share: ownership, introspection, repr."""

    __slots__ = ("__weakref__", "_chan")
    _side: ClassVar[int]

    def __init__(self, chan: Chan[T]) -> None:
        if not isinstance(chan, Chan):
            raise TypeError(
                f"{type(self).__name__} handles are made by mpsc.channel() and the other "
                f"constructors, not from {type(chan).__name__}"
            )
        self._chan = chan

    def _live(self) -> Chan[T]:
        return open_channel(self)

    _check_open = _live

    def _moved(self) -> Self:
        return move(self)

    def _unmoved(self, moved: Self) -> None:
        unmove(self, moved)

    def close(self) -> None:
        """Release this handle. Idempotent; other clones stay open.

        Releasing the last Sender lets receivers drain what is buffered and then see
        ``RecvError``; releasing the last Receiver drops buffered messages at once and makes
        every send (including blocked ones) fail with ``SendError``. A call blocked on this very
        handle in another thread raises ``ClosedHandleError``.
        """
        release(self, self._side)

    def clone(self) -> Self:
        """Another owner of the same side of the same channel; close each one.

        Returns:
            A new handle of the same class.

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also by a close
                racing the clone.
        """
        return clone(self, self._side)

    @property
    def capacity(self) -> int | None:
        """The bound given at construction (0 for rendezvous); None when unbounded.

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().cap

    def __len__(self) -> int:
        """How many messages are buffered now (always 0 on a rendezvous channel).

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().length()

    def __bool__(self) -> bool:
        # A handle is an object, not a container: ``if tx:`` must not mean "if tx is non-empty".
        return True

    def is_empty(self) -> bool:
        """Whether no message is buffered now.

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().length() == 0

    def is_full(self) -> bool:
        """Whether the buffer is at capacity now (always true on a rendezvous channel, where a
        send waits unless a receiver is already waiting).

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().is_full()

    def same_channel(self, other: _Handle[Any]) -> bool:
        """Whether ``other`` (a Sender or a Receiver) is a handle of the same channel.

        Args:
            other: A Sender or a Receiver.

        Raises:
            TypeError: ``other`` is not a handle.
            ClosedHandleError: This handle or ``other`` was closed (or moved by ``spawn``).
        """
        if not isinstance(other, _Handle):
            raise TypeError(f"same_channel() needs a Sender or Receiver, not {type(other).__name__}")
        return self._live() is other._live()

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # At interpreter exit module globals are being torn down and no thread waits any
        # more: nothing to release. (The default argument outlives the sys module's global.)
        try:
            if _finalizing():
                return
            chan = self._chan
            if not is_closed_marker(chan):
                release_collected(self)
        except AttributeError:  # never given a channel (a clone or move that did not happen)
            pass
        except BaseException as exc:
            # An interrupt before the release began (once begun, it raises nothing): release
            # now, and raise it after this finalizer rather than have CPython report and drop it.
            release_after(self, exc)

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"an mpsc {type(self).__name__} of a thread channel cannot be pickled or copied; "
            "use clone() for another handle"
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        chan = self._chan
        if chan is MOVED:
            return f"<mpsc.{name} (moved into a spawned thread)>"
        if is_closed_marker(chan):
            return f"<mpsc.{name} (closed)>"
        return f"<mpsc.{name} of {chan.describe()} channel: {chan.summary()}>"


class Sender(_Handle[T]):
    """The sending half of a channel. ``SyncSender`` is the same class, as Rust readers expect."""

    __slots__ = ()
    _side = SENDERS

    def send(self, value: T) -> None:
        """Send ``value``, waiting for room on a full bounded channel (for a receiver, at capacity 0).

        On an unbounded channel this never waits.

        Args:
            value: What to send.

        Raises:
            SendError: Every receiver is gone (also while this call waited); the value was not
                sent and is in the error's ``.value``.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            RuntimeError: Called inside a running event loop (asyncio or trio) when it would
                have to wait: use ``send_async`` there.
        """
        chan = self._chan
        if not chan.rx_gone and chan.buf is not NO_DEQUE:
            # A copy of ``Unbounded.offer``'s lock-free steps: inline, a send costs 40% less
            # than through the call (measured without a compiler). See there for why nothing
            # can land between the permit, the append and the return but in the rare branch.
            slots = chan.slots
            permitted = True
            if slots is not None:
                try:
                    del slots[-1]
                except IndexError:  # none free (a rendezvous channel never has one)
                    permitted = False
            if permitted:
                withdrawn: list[bool] | tuple[()] = ()
                try:
                    chan.buf.append(value)
                    if chan.recvq or chan.rx_gone or chan.tx_gone:
                        withdrawn = []
                        chan.after_append(value, withdrawn)
                except BaseException as exc:
                    if withdrawn:
                        raise
                    try:
                        return finish(None, Chan.settle, chan, exc)
                    except BaseException as again:  # as finish() started
                        return finish(None, Chan.settle, chan, again)
                if withdrawn:
                    raise withdrawn_error()
                return
        if not chan.offer(value):
            _ops.send(chan, self, value, None, tried=True)

    def try_send(self, value: T) -> None:
        """Send ``value`` only if that needs no waiting.

        Args:
            value: What to send.

        Raises:
            Full: A bounded channel is full (a rendezvous channel: no receiver is waiting); the
                value is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        if not self._chan.offer(value):
            raise Full(value)

    def send_timeout(self, value: T, timeout: float) -> None:
        """Send ``value``, waiting at most ``timeout`` seconds for room.

        Args:
            value: What to send.
            timeout: Seconds, ``>= 0``; one too large for the clock waits forever.

        Raises:
            Timeout: Time ran out first; the value was not sent and is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            TypeError: ``timeout`` is not a number.
            ValueError: ``timeout`` is negative or NaN.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        _ops.send(self._chan, self, value, deadline_after(timeout))

    def send_deadline(self, value: T, deadline: float) -> None:
        """Send ``value``, waiting for room until the ``time.monotonic()`` instant ``deadline``.

        Args:
            value: What to send.
            deadline: A ``time.monotonic()`` instant; one already past makes a single attempt.

        Raises:
            Timeout: The deadline passed first; the value is in the error's ``.value``.
            SendError: Every receiver is gone; the value is in the error's ``.value``.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            TypeError: ``deadline`` is not a number.
            ValueError: ``deadline`` is NaN.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        _ops.send(self._chan, self, value, checked_deadline(deadline))

    async def send_async(self, value: T) -> None:
        """``send`` for asyncio (or trio): awaits room (on a rendezvous channel, a receiver taking it).

        Safe to cancel: either the value was sent (it returns, and the cancellation lands at
        the next await) or ``CancelledError`` is raised and the value was not sent. Use
        ``asyncio.timeout()`` for a time limit (not ``asyncio.wait_for`` on Python 3.11, which
        drops a result that completes as it is cancelled).

        Args:
            value: What to send.

        Raises:
            SendError: Every receiver is gone (also while the task waited); the value is in the
                error's ``.value``.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                task was waiting.
            asyncio.CancelledError: The task was cancelled before the value was sent (under
                trio, trio's ``Cancelled``).
            RuntimeError: No asyncio event loop is running and this is not a trio task.
        """
        chan = self._chan
        trio = _ops.running_trio()
        if trio is not None:
            await trio.lowlevel.checkpoint_if_cancelled()
        if not chan.offer(value):
            await _ops.send_async(chan, self, value, None)
        elif trio is not None:
            await _ops.trio_yield(trio, None)

    def is_disconnected(self) -> bool:
        """Whether every Receiver is gone, so that no send can succeed any more.

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().rx_gone


SyncSender = Sender
"""Rust's name for the sender of a ``sync_channel``; here the same class as [`Sender`][mpsc.Sender]."""


class Receiver(_Handle[T]):
    """The receiving half of a channel. Clones share the messages: each goes to one of them."""

    __slots__ = ()
    _side = RECEIVERS

    def recv(self) -> T:
        """Receive the next message, waiting for one.

        Messages sent before the last Sender went are still delivered; after that, raises
        ``RecvError``.

        Returns:
            The oldest message.

        Raises:
            RecvError: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            RuntimeError: Called inside a running event loop (asyncio or trio) when it would
                have to wait: use ``recv_async`` there.
        """
        chan = self._chan
        if not chan.ended:
            try:
                for value in chan.take:  # a copy of ``Unbounded.poll``'s first steps (see send)
                    slots = chan.slots
                    if slots is not None:
                        try:
                            slots.append(True)
                            if chan.sendq:
                                chan.settle()
                        except BaseException as exc:
                            try:
                                return finish(value, Chan.settle, chan, exc)
                            except BaseException as again:  # as finish() started
                                return finish(value, Chan.settle, chan, again)
                    return value
            except IndexError:
                pass
        value = chan.poll()
        if value is NOTHING:
            return _ops.recv(chan, self, None, tried=True)
        return value

    def try_recv(self) -> T:
        """Receive a message that is there now, without waiting.

        Returns:
            The oldest message.

        Raises:
            Empty: No message is there now (senders may still send).
            RecvError: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        value = self._chan.poll()
        if value is NOTHING:
            raise Empty()
        return value

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
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            TypeError: ``timeout`` is not a number.
            ValueError: ``timeout`` is negative or NaN.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        return _ops.recv(self._chan, self, deadline_after(timeout))

    def recv_deadline(self, deadline: float) -> T:
        """Receive, waiting until the ``time.monotonic()`` instant ``deadline`` at the latest.

        Args:
            deadline: A ``time.monotonic()`` instant; one already past makes a single attempt.

        Returns:
            The oldest message.

        Raises:
            Timeout: Nothing came before the deadline.
            RecvError: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            TypeError: ``deadline`` is not a number.
            ValueError: ``deadline`` is NaN.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        return _ops.recv(self._chan, self, checked_deadline(deadline))

    def __iter__(self) -> Iterator[T]:
        """Iterate over messages as they arrive, until every Sender is gone and all are received."""
        return self

    def __next__(self) -> T:
        """The next message, waiting for it; the iteration ends once every Sender is gone and
        everything sent was received.

        Raises:
            StopIteration: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                call was waiting.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        chan = self._chan
        if not chan.ended:
            try:
                for value in chan.take:  # a copy of ``Unbounded.poll``'s first steps (see send)
                    slots = chan.slots
                    if slots is not None:
                        try:
                            slots.append(True)
                            if chan.sendq:
                                chan.settle()
                        except BaseException as exc:
                            try:
                                return finish(value, Chan.settle, chan, exc)
                            except BaseException as again:  # as finish() started
                                return finish(value, Chan.settle, chan, again)
                    return value
            except IndexError:
                pass
        try:
            value = chan.poll()
            if value is NOTHING:
                return _ops.recv(chan, self, None, tried=True)
        except RecvError:
            raise StopIteration from None
        return value

    async def recv_async(self) -> T:
        """``recv`` for asyncio (or trio): awaits the next message; ``RecvError`` once none ever will come.

        Safe to cancel: either a message was received (it is returned, and the cancellation
        lands at the next await) or ``CancelledError`` is raised and nothing was taken. Use
        ``asyncio.timeout()`` for a time limit (not ``asyncio.wait_for`` on Python 3.11, which
        drops a result that completes as it is cancelled).

        Returns:
            The oldest message.

        Raises:
            RecvError: The channel is empty and every Sender is gone.
            ClosedHandleError: This handle was closed (or moved by ``spawn``), also while the
                task was waiting.
            asyncio.CancelledError: The task was cancelled before a message was taken (under
                trio, trio's ``Cancelled``).
            RuntimeError: No asyncio event loop is running and this is not a trio task.
        """
        chan = self._chan
        trio = _ops.running_trio()
        if trio is not None:
            await trio.lowlevel.checkpoint_if_cancelled()
        value = chan.poll()
        if value is NOTHING:
            return await _ops.recv_async(chan, self, None)
        if trio is not None:
            return await _ops.trio_yield(trio, value)
        return value

    def __aiter__(self) -> AsyncIterator[T]:
        """``async for msg in rx``: messages as they arrive, until every Sender is gone."""
        return self

    async def __anext__(self) -> T:
        try:
            return await self.recv_async()
        except RecvError:
            raise StopAsyncIteration from None

    def try_iter(self) -> Iterator[T]:
        """Iterate over the messages there now, without waiting; it ends at the first gap.

        Yields:
            The messages buffered now, oldest first.

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        while True:
            try:
                yield self.try_recv()
            except (Empty, RecvError):
                return

    def is_disconnected(self) -> bool:
        """Whether every Sender is gone (messages may still be buffered).

        Raises:
            ClosedHandleError: This handle was closed (or moved by ``spawn``).
        """
        return self._live().tx_gone
