"""select: wait on several operations at once; exactly one of them takes effect.

An operation is a Receiver (receive from it) or a ``(Sender, value)`` pair (send the value).
The work is ``_ops.operate``, the same algorithm a single send or receive uses; this module
checks the operations and numbers them. :class:`Select` keeps a changing set of operations
under stable indices, for loops that drop channels as they disconnect.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from . import _ops
from ._deadlines import deadline_after
from ._handles import Receiver, Sender, _Handle
from ._ops import Operation as _Op
from ._ownership import closed_error, is_open

if TYPE_CHECKING:
    from ._accel import SelectPass
    from .process import Receiver as ProcessReceiver
    from .process import Sender as ProcessSender

Operation: TypeAlias = (
    "Receiver[Any] | tuple[Sender[Any], Any] | ProcessReceiver[Any] | tuple[ProcessSender[Any], Any]"
)


def _op(operation: object, index: int) -> _Op:
    """Check one operation; nothing is registered anywhere, nothing is tried yet."""
    if isinstance(operation, Receiver):
        return _Op(operation._live(), operation, None, False, index)
    if type(operation) is tuple and len(operation) == 2:
        sender, value = operation
        if isinstance(sender, Sender):
            return _Op(sender._live(), sender, value, True, index)
        source = _source(sender, True, index)
        if source is not None:
            return _Op(source, source, value, True, index)
    source = _source(operation, False, index)
    if source is not None:
        return _Op(source, source, None, False, index)
    if isinstance(operation, Sender):
        raise TypeError(f"operation {index}: a send is a (Sender, value) pair, not a bare Sender")
    if isinstance(operation, _Handle):
        raise TypeError(f"operation {index}: unknown handle type {type(operation).__name__}")
    raise TypeError(
        f"operation {index}: expected a Receiver or a (Sender, value) pair, not {type(operation).__name__}"
    )


def _source(handle: object, sending: bool, index: int) -> Any:
    """A process channel's handle (``mpsc.process``) as an operation: what stands in its
    channel's place in ``_ops`` (``mpsc.process._select.Source``); None for anything else."""
    make = getattr(type(handle), "_select_source", None)
    return None if make is None else make(handle, sending, index)


def _deadline(timeout: float | None, block: bool, count: int) -> float | None:
    deadline = None if timeout is None else deadline_after(timeout)
    if not count and deadline is None and block:
        raise ValueError("select() with no operations and no (finite) timeout would wait forever")
    return deadline


def _select(ops: Sequence[_Op], timeout: float | None, block: bool) -> tuple[int, Any]:
    deadline = _deadline(timeout, block, len(ops))
    return _ops.run(ops, deadline, block=block, select=True)


async def _select_async(ops: Sequence[_Op], timeout: float | None, block: bool) -> tuple[int, Any]:
    deadline = _deadline(timeout, block, len(ops))
    return await _ops.run_async(ops, deadline, block=block, select=True)


def select(*operations: Operation, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
    """Wait until one of ``operations`` completes; return its position and result.

    Each operation is a Receiver (its result is the value received) or a ``(Sender, value)``
    pair (its result is None), of a thread channel, a timer or a process channel
    (``mpsc.process``; see ``mpsc.process._select`` for how those wait). When several are
    ready, one is chosen at random. Exactly one operation takes effect; the others leave their
    channels untouched.

    A receive on a disconnected channel completes by raising ``RecvError``, a send with no
    receiver left by raising ``SendError``; either has ``.index`` set to its position.
    ``timeout`` (seconds) expiring raises ``Timeout``; with ``block=False`` nothing waits and
    ``Empty`` is raised if nothing is ready now.
    """
    fast = PASS
    if fast is not None:
        fast.operations = (operations, timeout)
        found = fast.result
        if found is not None:
            return found
    return _select([_op(operation, index) for index, operation in enumerate(operations)], timeout, block)


async def select_async(
    *operations: Operation, timeout: float | None = None, block: bool = True
) -> tuple[int, Any]:
    """:func:`select` for asyncio (or trio): awaits instead of blocking the thread.

    Cancelling it is safe: either it returns (an operation had completed just before) and the
    cancellation lands at the next await, or it raises ``CancelledError`` and no operation
    took effect.
    """
    ops = [_op(operation, index) for index, operation in enumerate(operations)]
    return await _select_async(ops, timeout, block)


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

    __slots__ = ("_cached", "_lock", "_next", "_ops")

    def __init__(self, *operations: Operation) -> None:
        self._ops: dict[int, _Op] = {}  # checked operations by index
        self._cached: tuple[_Op, ...] | None = ()  # their tuple, made again after a change
        self._next = 0
        self._lock = threading.Lock()
        for operation in operations:
            self.add(operation)

    def add(self, operation: Operation) -> int:
        """Add a Receiver or a ``(Sender, value)`` pair; return its index."""
        with self._lock:
            index = self._next
            self._ops[index] = _op(operation, index)  # checked now, not at the next select
            self._cached = None
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
        with self._lock:
            if self._ops.pop(index, None) is None:
                raise ValueError(f"no operation with index {index} in this Select")
            self._cached = None

    def __len__(self) -> int:
        return len(self._ops)

    def __contains__(self, index: object) -> bool:
        return index in self._ops

    def _checked(self) -> tuple[_Op, ...]:
        """The current operations, after checking that none of their handles was closed since
        it was added (an error then, before any operation is tried)."""
        ops = self._cached
        if ops is None:
            with self._lock:
                ops = self._cached = tuple(self._ops.values())
        for op in ops:
            if not is_open(op.handle, op.chan):
                raise closed_error(op.handle)
        return ops

    def select(self, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
        """As :func:`select` over the current operations; indices are the ones ``add`` gave."""
        fast = PASS
        if fast is not None:
            fast.records = (self._cached, timeout)
            found = fast.result
            if found is not None:
                return found
        return _select(self._checked(), timeout, block)

    def try_select(self) -> tuple[int, Any]:
        """``select(block=False)``: complete a ready operation or raise ``Empty``."""
        return self.select(None, False)

    async def select_async(self, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
        """As :func:`select_async` over the current operations."""
        return await _select_async(self._checked(), timeout, block)

    def __repr__(self) -> str:
        return f"<mpsc.Select of {len(self._ops)} operations>"


PASS: SelectPass | None = None
"""The C try pass (``_accel.SelectPass``) when the compiled implementation is in use (see
``_implementation``, the switch); None otherwise. A select with a ready operation completes
there; every other call goes on to the pure code above, which is the reference for what a
select does. Tests set it to None to run the pure pass alone."""
