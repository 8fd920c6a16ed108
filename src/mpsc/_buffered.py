"""The buffered flavours: ``unbounded()`` (a deque) and ``bounded(n)``, n >= 1 (a deque + permits).

Fast path. A send appends to ``buf`` and a receive pops from it without taking the lock; the
lock and a waiter are needed only when someone must sleep, and a sleeping peer is handed its
value (or, for a sender, has its value moved into ``buf``) by whoever makes that possible, and
woken once.

Why no wake-up is lost (the ordering argument). A receiver that finds ``buf`` empty takes the
lock, *first* appends its entry to ``recvq``, *then* looks at ``buf`` again (``settle_locked``).
A sender *first* appends to ``buf``, *then* looks at ``recvq`` (and settles under the lock if
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
number of permits, ``cap``. Permits are created lazily, a chunk of up to a thousand at a time
under the lock, so ``bounded(10**9)`` costs nothing until it fills; until the first send, the
permits and the buffer are the shared empty ``NO_DEQUE`` (an idle channel costs ~500 bytes).

Interrupts (see ``_interrupts``). The steps are written so that an exception can land only
before a send's value is appended or a receive's value is popped, or after — never between a
permit and the value it stands for: a permit is taken with ``del slots[-1]`` and a value popped
with ``for value in self.take``, neither of which is a check point. After the value moved,
the only check points are the permit's return (``slots.append``) and the settling that wakes
a peer; an exception landing there is held until the call has returned (``finish``).
"""

from __future__ import annotations

from collections import deque
from itertools import repeat
from typing import Any, TypeVar

from ._core import NO_DEQUE, NOTHING, PERMIT, Chan, Entry, first_live
from ._errors import ClosedHandleError, RecvError, SendError
from ._interrupts import finish
from ._waiters import RETRY

T = TypeVar("T")

_PERMIT_CHUNK = 1024


def withdrawn_error() -> ClosedHandleError:
    """What a send taken back out by ``Unbounded.withdraw`` raises."""
    return ClosedHandleError(
        "this handle was closed (by another thread) while it sent, after a receiver had seen "
        "that every sender was gone: the value was not sent"
    )


class Unbounded(Chan[T]):
    """``channel()``/``unbounded()``: sends never wait."""

    __slots__ = ()
    kind = "unbounded"

    def __init__(self) -> None:
        super().__init__(None)

    def offer(self, value: T) -> bool:
        if self.rx_gone:
            raise SendError(value)
        buf = self.buf
        if buf is NO_DEQUE:  # before the permit: nothing is taken until this is done
            buf = self.own_buffer()
        slots = self.slots
        permitted = True
        if slots is not None:
            try:
                del slots[-1]  # take a permit
            except IndexError:
                # Not taken here: leaving an except block can be a jump backward, a check point
                # (3.12), and an interrupt there would lose a permit taken inside it.
                permitted = False
        if not permitted and not self._more_permits():
            return False
        withdrawn: list[bool] | tuple[()] = ()
        try:
            buf.append(value)
            if self.recvq or self.rx_gone or self.tx_gone:
                withdrawn = []
                self.after_append(value, withdrawn)
        except BaseException as exc:
            if withdrawn:  # taken back out: the send did not happen
                raise
            try:  # the value is in: the send happened
                return finish(True, Chan.settle, self, exc)
            except BaseException as again:  # as finish() started
                return finish(True, Chan.settle, self, again)
        if withdrawn:
            raise withdrawn_error()
        return True

    def after_append(self, value: T, withdrawn: list[bool]) -> None:
        """After a lock-free append that saw someone to wake, or a disconnection: settle; or,
        when the sender's own handle was closed as it sent and a receiver has already seen the
        end, take the value back out (noted in ``withdrawn``: the send did not happen)."""
        if self.tx_gone:  # every sender is gone, ours too: it was closed as we sent
            self.withdraw(value, withdrawn)
        if not withdrawn:
            self.settle()

    def withdraw(self, value: T, withdrawn: list[bool]) -> None:
        """A send whose handle was closed as it appended ``value``: if a receiver has already
        reported the end (``ended``), take the value back out — disconnection is final — and
        note it in ``withdrawn`` (within the same burst, so that an interrupt cannot hide it).
        A value not found was received before the end: that send stands."""
        with self.lock:
            if not self.ended:
                return
            buf = self.buf
            position = len(buf) - 1
            while True:  # late values come last (not ``while <condition>``: see ``_ops.recorded``)
                if position < 0 or buf[position] is value:
                    break
                position -= 1
            if position < 0:
                return
            del buf[position]  # the burst: no check point from here to the end of the block
            slots = self.slots
            if slots is not None:
                slots += PERMIT
            withdrawn += (True,)

    def _more_permits(self) -> bool:
        """Out of permits (bounded): take one of those not created yet; False if full."""
        return False

    def poll(self) -> T:
        if self.ended:
            raise RecvError()
        value: Any = NOTHING
        try:
            for value in self.take:
                break
        except IndexError:
            if not self.tx_gone:
                return NOTHING  # type: ignore[no-any-return]
        # (Never a value taken inside an except block: leaving one can be a jump backward, a
        # check point on 3.12, where an interrupt would drop the value.)
        if value is NOTHING:  # a value sent just before the last sender left is still delivered
            try:
                for value in self.take:
                    break
            except IndexError:
                self.ended = True
                raise RecvError() from None
        slots = self.slots
        if slots is not None:
            try:
                slots.append(True)
                if self.sendq:
                    self.settle()
            except BaseException as exc:  # the value is taken: the receive happened
                try:
                    return finish(value, Chan.settle, self, exc)  # type: ignore[no-any-return]
                except BaseException as again:  # as finish() started
                    return finish(value, Chan.settle, self, again)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]

    def settle_locked(self) -> list[T] | None:
        dropped = self.drop_buffer_locked() if self.rx_gone and self.buf else None
        self._hand_over_locked()
        self.settle_disconnected_locked()
        return dropped

    def _hand_over_locked(self) -> None:
        """Give buffered values, oldest first, to receivers in the order they queued."""
        recvq = self.recvq
        while recvq and self.buf and not self.ended:
            entry = first_live(recvq, True)
            if entry is None or not self.buf:  # (a lock-free receiver took the value meanwhile)
                return
            self._hand_over_one_locked(entry)

    def _hand_over_one_locked(self, entry: Entry) -> None:
        """One burst: claim the head receiver, pop the oldest value into its waiter, return
        the permit, wake it, and take it out of the queue."""
        waiter = entry.waiter
        claims = waiter.claims
        claims += (entry,)
        if claims[0] is entry:
            try:
                for waiter.value in self.take:
                    break
            except IndexError:  # a lock-free receiver took it first: this one looks again
                # The burst ends in here: leaving an except block can be a jump backward, a
                # check point (3.12).
                waiter.value = RETRY
                waiter.index = entry.index
                for _ in waiter.unpark:
                    break
                del self.recvq[0]
                return
            slots = self.slots
            if slots is not None:
                slots += PERMIT
            waiter.index = entry.index
            for _ in waiter.unpark:
                break
        del self.recvq[0]


class Bounded(Unbounded[T]):
    """``sync_channel(n)``/``bounded(n)`` with n >= 1: sends wait while ``n`` are buffered."""

    __slots__ = ("_reserve",)
    kind = "bounded"

    def __init__(self, cap: int) -> None:
        Chan.__init__(self, cap)
        self.slots = NO_DEQUE  # its own deque comes with the first permits
        self._reserve = cap  # permits not yet created

    def describe(self) -> str:
        return f"bounded({self.cap})"

    def may_send(self) -> bool:
        return bool(self.slots) or bool(self._reserve) or self.rx_gone

    def _more_permits(self) -> bool:
        # The deque looked at may have been NO_DEQUE while another sender made the channel's
        # own: its permits are taken from there, even when none are left to make.
        if self._reserve:
            self._make_permits()
        slots = self.slots
        assert slots is not None
        try:
            del slots[-1]
        except IndexError:  # full: other senders took the new ones first
            return False
        return True

    def _make_permits(self) -> bool:
        """Create the next chunk of permits not yet created; False if there are none left."""
        with self.lock:
            return self._make_permits_locked()

    def _make_permits_locked(self) -> bool:
        if not self._reserve:
            return False
        chunk = min(self._reserve, _PERMIT_CHUNK)
        more = repeat(True, chunk)
        slots = self.slots
        assert slots is not None
        if slots is NO_DEQUE:
            slots = self.slots = deque()
        # No check point between these two: the permits move from the reserve to the deque. In
        # this order: a sender that sees the reserve emptied (``_more_permits``, without the
        # lock) finds the permits in the deque, not in neither place, which would be Full.
        slots += more
        self._reserve -= chunk
        return True

    def settle_locked(self) -> list[T] | None:
        dropped = self.drop_buffer_locked() if self.rx_gone and self.buf else None
        while True:
            self._hand_over_locked()
            if not self.sendq or self.rx_gone or not self._admit_senders_locked():
                break
        self.settle_disconnected_locked()
        return dropped

    def _admit_senders_locked(self) -> bool:
        """Move blocked senders' values into free room, first come first served."""
        sendq = self.sendq
        if sendq and self.buf is NO_DEQUE:  # (never so: a sender waits only once some were sent)
            self.own_buffer_locked()
        admitted = False
        while sendq:
            if not self.slots and not self._make_permits_locked():
                break
            entry = first_live(sendq, False)
            if entry is None or not self._admit_one_locked(entry):
                break
            admitted = True
        return admitted

    def _admit_one_locked(self, entry: Entry) -> bool:
        """One burst: take a permit, claim the head sender, append its value, wake it, and take
        it out of the queue. False if there was no permit left (a lock-free sender took it)."""
        slots = self.slots
        assert slots is not None
        try:
            del slots[-1]
        except IndexError:
            return False
        waiter = entry.waiter
        claims = waiter.claims
        claims += (entry,)
        if claims[0] is entry:
            buf: Any = self.buf
            buf += (entry.value,)
            waiter.value = None
            waiter.index = entry.index
            for _ in waiter.unpark:
                break
        else:  # claimed elsewhere meanwhile: the permit goes back
            slots += PERMIT
        del self.sendq[0]
        return True
