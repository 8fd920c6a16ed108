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
    channels untouched. An exception that lands once the operation took effect (Ctrl-C) is
    raised right after the return, where the caller has stored the result; but on Python 3.11
    ``select(*ops)`` is a call through C, whose return is checked before the caller stores
    anything: there, ``Select(*ops).select()`` keeps the result.

    A receive on a disconnected channel completes by raising ``RecvError``, a send with no
    receiver left by raising ``SendError``; either has ``.index`` set to its position.
    ``timeout`` (seconds) expiring raises ``Timeout``; with ``block=False`` nothing waits and
    ``Empty`` is raised if nothing is ready now.

    Args:
        *operations: Receivers and ``(Sender, value)`` pairs; a channel may appear in several.
        timeout: Seconds to wait at most (``>= 0``); None waits until an operation completes.
        block: False: complete an operation that is ready now, or raise ``Empty``.

    Returns:
        ``(index, result)``: the position of the operation that completed, and the value it
        received (None for a send).

    Raises:
        RecvError: The receive at ``.index`` found its channel empty and every Sender gone.
        SendError: The send at ``.index`` found every Receiver gone (``.value`` is its value).
        Timeout: ``timeout`` expired first.
        Empty: ``block=False`` and no operation was ready.
        TypeError: An operation is neither a Receiver nor a ``(Sender, value)`` pair, or
            ``timeout`` is not a number.
        ValueError: ``timeout`` is negative or NaN, or there are no operations, no finite
            timeout and ``block=True`` (the select could never return).
        ClosedHandleError: A handle of an operation was closed (or moved by ``spawn``).
        RuntimeError: Called inside a running event loop (asyncio or trio) when it would have
            to wait: use ``select_async`` there.

    Examples:
        >>> import mpsc
        >>> a_tx, a_rx = mpsc.channel()
        >>> b_tx, b_rx = mpsc.bounded(1)
        >>> a_tx.send("hello")
        >>> mpsc.select(a_rx, (b_tx, 42)) in [(0, "hello"), (1, None)]  # both ready: either
        True
    """
    fast = PASS
    if fast is not None:
        found = fast[False, operations, timeout]
        if found is not None:
            return found
    return _select([_op(operation, index) for index, operation in enumerate(operations)], timeout, block)


async def select_async(
    *operations: Operation, timeout: float | None = None, block: bool = True
) -> tuple[int, Any]:
    """[`select`][mpsc.select] for asyncio (or trio): awaits instead of blocking the thread.

    Cancelling it is safe: either it returns (an operation had completed just before) and the
    cancellation lands at the next await, or it raises ``CancelledError`` and no operation
    took effect.

    Args:
        *operations: Receivers and ``(Sender, value)`` pairs; a channel may appear in several.
        timeout: Seconds to wait at most (``>= 0``); None waits until an operation completes.
        block: False: complete an operation that is ready now, or raise ``Empty``.

    Returns:
        ``(index, result)``, as [`select`][mpsc.select] returns it.

    Raises:
        RecvError: The receive at ``.index`` found its channel empty and every Sender gone.
        SendError: The send at ``.index`` found every Receiver gone (``.value`` is its value).
        Timeout: ``timeout`` expired first.
        Empty: ``block=False`` and no operation was ready.
        TypeError: An operation is neither a Receiver nor a ``(Sender, value)`` pair, or
            ``timeout`` is not a number.
        ValueError: ``timeout`` is negative or NaN, or there are no operations, no finite
            timeout and ``block=True``.
        ClosedHandleError: A handle of an operation was closed (or moved by ``spawn``).
        asyncio.CancelledError: The task was cancelled before an operation took effect (under
            trio, trio's ``Cancelled``).
        RuntimeError: No asyncio event loop is running and this is not a trio task, or a
            process channel's operation is awaited under trio (asyncio only).
    """
    ops = [_op(operation, index) for index, operation in enumerate(operations)]
    return await _select_async(ops, timeout, block)


class Select:
    """A set of operations to select from, kept between calls under stable indices.

    ``add`` returns an operation's index, which never changes and is never reused, so a loop
    can ``remove`` an operation (say, a channel that disconnected) and keep the others'
    indices. ``len(sel)`` is the number of operations, and ``index in sel`` says whether one is
    still there. One Select may be used by several threads at once; each call works on the
    operations present when it starts.

    Args:
        *operations: The first operations, given indices 0, 1, ... in this order.

    Raises:
        TypeError: An operation is neither a Receiver nor a ``(Sender, value)`` pair.
        ClosedHandleError: A handle of an operation was closed (or moved by ``spawn``).

    Examples:
        >>> import mpsc
        >>> jobs_tx, jobs_rx = mpsc.channel()
        >>> jobs_tx.send("job")
        >>> jobs_tx.close()
        >>> sel = mpsc.Select(jobs_rx, mpsc.never())
        >>> sel.select()
        (0, 'job')
        >>> try:
        ...     sel.select()
        ... except mpsc.RecvError as gone:
        ...     sel.remove(gone.index)
        >>> len(sel), 0 in sel, 1 in sel
        (1, False, True)
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
        """Add a Receiver or a ``(Sender, value)`` pair.

        Args:
            operation: A Receiver (receive from it) or a ``(Sender, value)`` pair (send it).

        Returns:
            The operation's index, never reused in this Select.

        Raises:
            TypeError: ``operation`` is neither a Receiver nor a ``(Sender, value)`` pair.
            ClosedHandleError: Its handle was closed (or moved by ``spawn``).
        """
        with self._lock:
            index = self._next
            self._ops[index] = _op(operation, index)  # checked now, not at the next select
            self._cached = None
            self._next += 1
        return index

    def recv(self, receiver: Receiver[Any]) -> int:
        """Add a receive from ``receiver``.

        Args:
            receiver: The Receiver to receive from.

        Returns:
            The operation's index.

        Raises:
            TypeError: ``receiver`` is not a Receiver.
            ClosedHandleError: ``receiver`` was closed (or moved by ``spawn``).
        """
        return self.add(receiver)

    def send(self, sender: Sender[Any], value: Any) -> int:
        """Add a send of ``value`` on ``sender``.

        Args:
            sender: The Sender to send on.
            value: What to send.

        Returns:
            The operation's index.

        Raises:
            TypeError: ``sender`` is not a Sender.
            ClosedHandleError: ``sender`` was closed (or moved by ``spawn``).
        """
        return self.add((sender, value))

    def remove(self, index: int) -> None:
        """Remove the operation with this index.

        Args:
            index: An index that ``add`` (or the constructor) gave.

        Raises:
            ValueError: No operation has this index (any more).
        """
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
        """As [`select`][mpsc.select] over the current operations; indices are the ones ``add`` gave.

        Args:
            timeout: Seconds to wait at most (``>= 0``); None waits until an operation completes.
            block: False: complete an operation that is ready now, or raise ``Empty``.

        Returns:
            ``(index, result)`` of the operation that completed.

        Raises:
            RecvError: The receive at ``.index`` found its channel empty and every Sender gone.
            SendError: The send at ``.index`` found every Receiver gone.
            Timeout: ``timeout`` expired first.
            Empty: ``block=False`` and no operation was ready.
            TypeError: ``timeout`` is not a number.
            ValueError: ``timeout`` is negative or NaN, or there is no operation, no finite
                timeout and ``block=True``.
            ClosedHandleError: A handle was closed since its operation was added.
            RuntimeError: Called inside a running event loop when it would have to wait.
        """
        fast = PASS
        if fast is not None:
            found = fast[True, self._cached, timeout]
            if found is not None:
                return found
        return _select(self._checked(), timeout, block)

    def try_select(self) -> tuple[int, Any]:
        """``select(block=False)``: complete a ready operation or raise ``Empty``.

        Returns:
            ``(index, result)`` of the operation that completed.

        Raises:
            Empty: No operation was ready.
            RecvError: The receive at ``.index`` found its channel empty and every Sender gone.
            SendError: The send at ``.index`` found every Receiver gone.
            ClosedHandleError: A handle was closed since its operation was added.
        """
        return self.select(None, False)

    async def select_async(self, timeout: float | None = None, block: bool = True) -> tuple[int, Any]:
        """As [`select_async`][mpsc.select_async] over the current operations.

        Args:
            timeout: Seconds to wait at most (``>= 0``); None waits until an operation completes.
            block: False: complete an operation that is ready now, or raise ``Empty``.

        Returns:
            ``(index, result)`` of the operation that completed.

        Raises:
            RecvError: The receive at ``.index`` found its channel empty and every Sender gone.
            SendError: The send at ``.index`` found every Receiver gone.
            Timeout: ``timeout`` expired first.
            Empty: ``block=False`` and no operation was ready.
            ClosedHandleError: A handle was closed since its operation was added.
            asyncio.CancelledError: The task was cancelled before an operation took effect.
            RuntimeError: No asyncio event loop is running and this is not a trio task.
        """
        return await _select_async(self._checked(), timeout, block)

    def __repr__(self) -> str:
        return f"<mpsc.Select of {len(self._ops)} operations>"


PASS: SelectPass | None = None
"""The C try pass (``_accel.SelectPass``) when the compiled implementation is in use (see
``_implementation``, the switch); None otherwise. A select with a ready operation completes
there; every other call goes on to the pure code above, which is the reference for what a
select does. Tests set it to None to run the pure pass alone."""
