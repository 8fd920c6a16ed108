"""The rendezvous flavour: ``sync_channel(0)``/``bounded(0)``. Nothing is ever buffered.

A send completes only by handing its value to a receiver: either one already waiting (the
sender claims it and gives it the value), or one that arrives later and takes the value out of
the sender's queued entry. Either way the send returns only once a receiver holds the value.
Everything happens under the lock; there is no lock-free path (``buf`` stays empty and
``slots`` has no permits, which sends the handles' fast paths straight here).

A waiter never pairs with itself: a ``select`` that both sends to and receives from the same
rendezvous channel can only be matched by someone else.
"""

from __future__ import annotations

from collections import deque
from typing import TypeVar

from ._core import NOTHING, Chan, Entry
from ._errors import RecvError, SendError
from ._waiters import RETRY, Waiter

T = TypeVar("T")


class Rendezvous(Chan[T]):
    """``bounded(0)``: every send waits for a receiver to take its value."""

    __slots__ = ()
    kind = "bounded(0)"

    def __init__(self) -> None:
        super().__init__(0)
        self.slots = deque()  # never holds a permit

    def is_full(self) -> bool:
        return True

    def may_recv(self) -> bool:
        return bool(self.sendq) or self.tx_gone

    def may_send(self) -> bool:
        return bool(self.recvq) or self.rx_gone

    def offer(self, value: T) -> bool:
        with self.lock:
            if self.rx_gone:
                raise SendError(value)
            entry = _claim_first(self.recvq)
            if entry is None:
                return False
            entry.waiter.complete(entry.index, value)
        return True

    def poll(self) -> T:
        with self.lock:
            entry = _claim_first(self.sendq)
            if entry is not None:
                entry.waiter.complete(entry.index, None)
                return entry.value  # type: ignore[no-any-return]
            if self.tx_gone:
                raise RecvError()
            return NOTHING  # type: ignore[no-any-return]

    def settle_locked(self) -> None:
        sendq, recvq = self.sendq, self.recvq
        while sendq and recvq:
            pair = _first_pair(sendq, recvq)
            if pair is None:
                return
            sender, receiver = pair
            sendq.remove(sender)
            if not sender.waiter.claim():
                continue
            recvq.remove(receiver)
            if not receiver.waiter.claim():
                sender.waiter.complete(sender.index, RETRY)  # it queues again, losing nothing
                continue
            receiver.waiter.complete(receiver.index, sender.value)
            sender.waiter.complete(sender.index, None)


def _claim_first(queue: deque[Entry]) -> Entry | None:
    """Claim and dequeue the oldest waiting entry, if any."""
    while True:
        entry = _first_live(queue, None)
        if entry is None:
            return None
        if entry.waiter.claim():
            queue.remove(entry)
            return entry


def _first_live(queue: deque[Entry], exclude: Waiter | None) -> Entry | None:
    for entry in queue:
        if not entry.waiter.claimed and entry.waiter is not exclude:
            return entry
    return None


def _first_pair(sendq: deque[Entry], recvq: deque[Entry]) -> tuple[Entry, Entry] | None:
    """The oldest sender and the oldest receiver that are both waiting and not the same waiter."""
    for sender in sendq:
        if sender.waiter.claimed:
            continue
        receiver = _first_live(recvq, sender.waiter)
        if receiver is not None:
            return sender, receiver
    return None
