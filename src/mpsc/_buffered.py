"""The buffered flavours: ``unbounded()`` (a deque) and ``bounded(n)``, n >= 1 (a deque + permits).

Fast path. A send appends to ``buf`` and a receive pops from it without taking the lock; the
lock and a waiter are needed only when someone must sleep. ``Sender.send`` and
``Receiver.recv`` inline the same steps as :meth:`Unbounded.offer` and :meth:`Unbounded.poll`
so that the common case costs no extra call.

Why no wake-up is lost (the ordering argument). A receiver that finds ``buf`` empty takes the
lock, *first* appends its entry to ``recvq``, *then* looks at ``buf`` again (``settle_locked``).
A sender *first* appends to ``buf``, *then* looks at ``recvq`` (and calls ``after_send`` if
anyone is there). Each side writes its own deque before reading the other's, so at least one of
them sees the other: either the receiver finds the value, or the sender finds the receiver and
hands the value over under the lock. Under the GIL every deque operation is sequentially
consistent. On free-threaded builds each ``append``/``popleft`` runs in the deque's critical
section, which ends with an atomic read-modify-write of its mutex (a full barrier), and
``len()`` of a deque is an atomic load, so the same reasoning holds. Bounded channels do the
same with ``slots`` and ``sendq``: a receiver returns a permit to ``slots`` and then reads
``sendq``; a blocked sender appends to ``sendq`` and then takes a permit from ``slots``.

Capacity is exact without a lock: a sender must take a permit from ``slots`` before it appends
to ``buf``, and a receiver returns one only after it popped, so ``len(buf)`` never exceeds the
number of permits, ``cap``. Beyond the first thousand, permits are created lazily, a chunk at a
time under the lock, so ``bounded(10**9)`` costs nothing until it fills.
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from typing import Any, TypeVar

from ._core import NOTHING, Chan, abandon, take_permit
from ._errors import RecvError, SendError
from ._waiters import RETRY

T = TypeVar("T")

_PERMIT_CHUNK = 1024


class Unbounded(Chan[T]):
    """``channel()``/``unbounded()``: sends never wait."""

    __slots__ = ()
    kind = "unbounded"

    def __init__(self) -> None:
        super().__init__(None)

    def offer(self, value: T) -> bool:
        if self.rx_gone:
            raise SendError(value)
        self.buf.append(value)
        if self.recvq or self.rx_gone:
            self.after_send()
        return True

    def poll(self) -> T:
        try:
            value = self.buf.popleft()
        except IndexError:
            if not self.tx_gone:
                return NOTHING  # type: ignore[no-any-return]
            try:  # a value sent just before the last sender left is still delivered
                value = self.buf.popleft()
            except IndexError:
                raise RecvError() from None
        slots = self.slots
        if slots is not None:
            slots.append(True)
            if self.sendq:
                self.after_recv()
        return value

    def settle_locked(self) -> None:
        self._hand_over_buffered_locked()

    def _hand_over_buffered_locked(self) -> None:
        """Give buffered values, oldest first, to receivers in the order they queued."""
        buf, recvq, slots = self.buf, self.recvq, self.slots
        while recvq and buf:
            entry = recvq.popleft()
            waiter = entry.waiter
            if waiter.claimed or not waiter.claim():  # completed elsewhere, or leaving
                continue
            try:
                value: Any = buf.popleft()
            except IndexError:  # a lock-free receiver took it first: this one tries again
                waiter.complete(entry.index, RETRY)
                break
            if slots is not None:
                slots.append(True)
            waiter.complete(entry.index, value)
        if recvq and self.tx_gone and not buf:
            # A receiver may queue after the last sender left, while a value was still
            # buffered, and a lock-free receiver take that value before this hand-over: no
            # sender is left to wake it, so it must look again now and see the disconnection.
            abandon(recvq, None)


class Bounded(Unbounded[T]):
    """``sync_channel(n)``/``bounded(n)`` with n >= 1: sends wait while ``n`` are buffered."""

    __slots__ = ("_reserve",)
    kind = "bounded"

    def __init__(self, cap: int) -> None:
        Chan.__init__(self, cap)
        first = min(cap, _PERMIT_CHUNK)
        self.slots = deque(repeat(True, first))
        self._reserve = cap - first  # permits not yet created

    def describe(self) -> str:
        return f"bounded({self.cap})"

    def may_send(self) -> bool:
        return bool(self.slots) or bool(self._reserve) or self.rx_gone

    def offer(self, value: T) -> bool:
        if self.rx_gone:
            raise SendError(value)
        slots = self.slots
        assert slots is not None
        if not slots or not take_permit(slots):
            with self.lock:
                if not self._take_permit_locked():
                    return False
        self.buf.append(value)
        if self.recvq or self.rx_gone:
            self.after_send()
        return True

    def settle_locked(self) -> None:
        while True:
            self._hand_over_buffered_locked()
            if not self.sendq or not self._admit_senders_locked():
                return

    def _admit_senders_locked(self) -> bool:
        """Move blocked senders' values into free room, first come first served."""
        sendq, slots = self.sendq, self.slots
        assert slots is not None
        admitted = False
        while sendq:
            entry = sendq[0]
            if entry.waiter.claimed:
                sendq.popleft()
                continue
            if not self._take_permit_locked():
                break
            sendq.popleft()
            if not entry.waiter.claim():  # claimed elsewhere meanwhile: give the permit back
                slots.append(True)
                continue
            self.buf.append(entry.value)
            entry.waiter.complete(entry.index, None)
            admitted = True
        return admitted

    def _take_permit_locked(self) -> bool:
        slots = self.slots
        assert slots is not None
        if slots and take_permit(slots):
            return True
        if not self._reserve:
            return False
        chunk = min(self._reserve, _PERMIT_CHUNK)
        self._reserve -= chunk
        slots.extend(repeat(True, chunk - 1))  # and one for the caller
        return True
