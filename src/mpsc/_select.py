"""select: wait on several operations at once; exactly one of them takes effect.

An operation is a Receiver (receive from it) or a ``(Sender, value)`` pair (send the value).
The work is ``_ops.operate``, the same algorithm a single send or receive uses; this module
checks the operations and numbers them. :class:`Select` keeps a changing set of operations
under stable indices, for loops that drop channels as they disconnect.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from . import _ops
from ._core import Entry
from ._deadlines import deadline_after
from ._handles import Receiver, Sender, _Handle

Operation = Receiver[Any] | tuple[Sender[Any], Any]


def _entry(operation: object, index: int) -> Entry:
    """Check one operation and make its entry; nothing is registered anywhere yet."""
    if isinstance(operation, Receiver):
        return Entry(operation._live(), operation, None, False, index)
    if type(operation) is tuple and len(operation) == 2 and isinstance(operation[0], Sender):
        sender, value = operation
        return Entry(sender._live(), sender, value, True, index)
    if isinstance(operation, Sender):
        raise TypeError(f"operation {index}: a send is a (Sender, value) pair, not a bare Sender")
    if isinstance(operation, _Handle):
        raise TypeError(f"operation {index}: unknown handle type {type(operation).__name__}")
    raise TypeError(
        f"operation {index}: expected a Receiver or a (Sender, value) pair, not {type(operation).__name__}"
    )


def _entries(operations: Iterable[tuple[int, object]]) -> list[Entry]:
    return [_entry(operation, index) for index, operation in operations]


def _deadline(timeout: float | None, block: bool, count: int) -> float | None:
    deadline = None if timeout is None else deadline_after(timeout)
    if not count and deadline is None and block:
        raise ValueError("select() with no operations and no (finite) timeout would wait forever")
    return deadline


def select(*operations: Operation, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
    """Wait until one of ``operations`` completes; return its position and result.

    Each operation is a Receiver (its result is the value received) or a ``(Sender, value)``
    pair (its result is None). When several are ready, one is chosen at random. Exactly one
    operation takes effect; the others leave their channels untouched.

    A receive on a disconnected channel completes by raising ``RecvError``, a send with no
    receiver left by raising ``SendError``; either has ``.index`` set to its position.
    ``timeout`` (seconds) expiring raises ``Timeout``; with ``block=False`` nothing waits and
    ``Empty`` is raised if nothing is ready now.
    """
    entries = _entries(enumerate(operations))
    deadline = _deadline(timeout, block, len(entries))
    return _ops.run(_ops.operate(entries, deadline, _ops.thread_waiter, block=block, select=True))


async def select_async(
    *operations: Operation, timeout: float | None = None, block: bool = True
) -> tuple[int, Any]:
    """:func:`select` for asyncio: awaits instead of blocking the thread.

    Cancelling it is safe: either it returns (an operation had completed just before) and the
    cancellation lands at the next await, or it raises ``CancelledError`` and no operation
    took effect.
    """
    entries = _entries(enumerate(operations))
    deadline = _deadline(timeout, block, len(entries))
    rounds = _ops.operate(entries, deadline, _ops.new_async_waiter, block=block, select=True)
    return await _ops.run_async(rounds)


class Select:
    """A set of operations to select from, kept between calls under stable indices.

    ``add`` returns an operation's index, which never changes and is never reused, so a loop
    can ``remove`` an operation (say, a channel that disconnected) and keep the others'
    indices::

        sel = mpsc.Select(jobs, results)
        while len(sel):
            try:
                index, value = sel.select()
            except mpsc.RecvError as gone:
                sel.remove(gone.index)
                continue
            ...

    One Select may be used by several threads at once; each call works on the operations
    present when it starts.
    """

    __slots__ = ("_lock", "_next", "_operations")

    def __init__(self, *operations: Operation) -> None:
        self._operations: dict[int, Operation] = {}
        self._next = 0
        self._lock = threading.Lock()
        for operation in operations:
            self.add(operation)

    def add(self, operation: Operation) -> int:
        """Add a Receiver or a ``(Sender, value)`` pair; return its index."""
        _entry(operation, self._next)  # checked now, not at the next select
        with self._lock:
            index = self._next
            self._operations[index] = operation
            self._next += 1
        return index

    def recv(self, receiver: Receiver[Any]) -> int:
        """Add a receive from ``receiver``; return its index."""
        return self.add(receiver)

    def send(self, sender: Sender[Any], value: Any) -> int:
        """Add a send of ``value`` on ``sender``; return its index."""
        return self.add((sender, value))

    def remove(self, index: int) -> None:
        """Remove the operation with this index (``ValueError`` if there is none)."""
        try:
            with self._lock:
                del self._operations[index]
        except KeyError:
            raise ValueError(f"no operation with index {index} in this Select") from None

    def __len__(self) -> int:
        return len(self._operations)

    def __contains__(self, index: object) -> bool:
        return index in self._operations

    def _current(self) -> list[Entry]:
        with self._lock:
            operations = list(self._operations.items())
        return _entries(operations)

    def select(self, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
        """As :func:`select` over the current operations; indices are the ones ``add`` gave."""
        entries = self._current()
        deadline = _deadline(timeout, block, len(entries))
        return _ops.run(_ops.operate(entries, deadline, _ops.thread_waiter, block=block, select=True))

    def try_select(self) -> tuple[int, Any]:
        """``select(block=False)``: complete a ready operation or raise ``Empty``."""
        return self.select(block=False)

    async def select_async(self, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
        """As :func:`select_async` over the current operations."""
        entries = self._current()
        deadline = _deadline(timeout, block, len(entries))
        rounds = _ops.operate(entries, deadline, _ops.new_async_waiter, block=block, select=True)
        return await _ops.run_async(rounds)

    def __repr__(self) -> str:
        return f"<mpsc.Select of {len(self._operations)} operations>"
