"""The rendezvous flavour: ``sync_channel(0)``/``bounded(0)``. Nothing is ever buffered.

A send completes only by handing its value to a receiver: either one already waiting (the
sender claims it and gives it the value), or one that arrives later and takes the value out of
the sender's queued entry. Either way the send returns only once a receiver holds the value.
Everything happens under the lock; there is no lock-free path (``buf`` stays empty and
``slots`` has no permits, which sends the handles' fast paths straight here).

Each hand-over is one burst (see ``_core``): both sides are claimed, the value moves and both
are woken with no check point in between. A call that completes here can still meet a check
point as it leaves the lock; an exception landing there is held until the call has returned
(``_interrupts.finish``).

A waiter never pairs with itself: a ``select`` that both sends to and receives from the same
rendezvous channel can only be matched by someone else.
"""

from __future__ import annotations

from collections import deque
from typing import Any, TypeVar

from ._core import NO_DEQUE, NOTHING, Chan, Entry, complete_at, first_live
from ._errors import RecvError, SendError
from ._interrupts import finish
from ._waiters import GONE, LATER, RETRY

T = TypeVar("T")


class Rendezvous(Chan[T]):
    """``bounded(0)``: every send waits for a receiver to take its value."""

    __slots__ = ()
    kind = "bounded(0)"

    def __init__(self) -> None:
        super().__init__(0)
        self.slots = NO_DEQUE  # never holds a permit

    def is_full(self) -> bool:
        return True

    def may_recv(self) -> bool:
        return bool(self.sendq) or self.tx_gone

    def may_send(self) -> bool:
        return bool(self.recvq) or self.rx_gone

    def offer(self, value: T) -> bool:
        given = False
        try:
            with self.lock:
                if self.rx_gone:
                    raise SendError(value)
                while True:  # (not ``while not given``: see ``_ops.recorded``)
                    if first_live(self.recvq, True) is None:
                        return False
                    given = complete_at(self.recvq, 0, value)
                    if given:
                        break
        except BaseException as exc:
            if not given:
                raise
            try:  # a receiver has it: the send happened
                return finish(True, Chan.settle, self, exc)
            except BaseException as again:  # as finish() started
                return finish(True, Chan.settle, self, again)
        return True

    def poll(self) -> T:
        taken: Any = NOTHING
        try:
            with self.lock:
                while True:  # (not ``while taken is NOTHING``: see ``_ops.recorded``)
                    if first_live(self.sendq, False) is None:
                        if self.tx_gone:
                            raise RecvError()
                        return NOTHING  # type: ignore[no-any-return]
                    taken = _take_head(self.sendq)
                    if taken is not NOTHING:
                        break
        except BaseException as exc:
            if taken is NOTHING:
                raise
            try:  # the value is ours: the receive happened
                return finish(taken, Chan.settle, self, exc)  # type: ignore[no-any-return]
            except BaseException as again:  # as finish() started
                return finish(taken, Chan.settle, self, again)  # type: ignore[no-any-return]
        return taken  # type: ignore[no-any-return]

    def settle_locked(self) -> None:
        sendq, recvq = self.sendq, self.recvq
        while sendq and recvq:
            pair = _first_pair(sendq, recvq)
            if pair is None:
                break
            sender, receiver = pair
            if sendq[sender].waiter.alert() == GONE:
                del sendq[sender]
                continue
            able = recvq[receiver].waiter.alert()
            if able == GONE:
                del recvq[receiver]
            elif able == LATER:  # its loop is not running: woken to look again, not handed a value
                complete_at(recvq, receiver, RETRY)
            else:
                _match(sendq, sender, recvq, receiver)
        self.settle_disconnected_locked()


def _take_head(sendq: deque[Entry]) -> Any:
    """One burst: claim the head sender, complete it, and return its value (NOTHING if it was
    claimed elsewhere first); it leaves the queue either way."""
    entry = sendq[0]
    waiter = entry.waiter
    claims = waiter.claims
    claims += (entry,)
    value = NOTHING
    if claims[0] is entry:
        value = entry.value
        waiter.value = None
        waiter.index = entry.index
        for _ in waiter.unpark:
            break
    del sendq[0]
    return value


def _match(sendq: deque[Entry], sender: int, recvq: deque[Entry], receiver: int) -> None:
    """One burst: claim a queued sender and a queued receiver and move the value between them.
    A sender whose receiver was claimed elsewhere first is woken to queue again."""
    send, recv = sendq[sender], recvq[receiver]
    send_waiter, recv_waiter = send.waiter, recv.waiter
    claims = send_waiter.claims
    claims += (send,)
    if claims[0] is send:
        claims = recv_waiter.claims
        claims += (recv,)
        if claims[0] is recv:
            recv_waiter.value = send.value
            recv_waiter.index = recv.index
            send_waiter.value = None
            for _ in recv_waiter.unpark:
                break
        else:
            send_waiter.value = RETRY  # it queues again, losing nothing
        send_waiter.index = send.index
        for _ in send_waiter.unpark:
            break
        del recvq[receiver]
    del sendq[sender]


def _first_pair(sendq: deque[Entry], recvq: deque[Entry]) -> tuple[int, int] | None:
    """Positions of the oldest sender and the oldest receiver that are both waiting and not
    the same waiter; claimed entries met on the way are dropped."""
    while sendq and sendq[0].waiter.claims:
        del sendq[0]
    while recvq and recvq[0].waiter.claims:
        del recvq[0]
    for sender, send in enumerate(sendq):
        if send.waiter.claims:
            continue
        for receiver, recv in enumerate(recvq):
            if not recv.waiter.claims and recv.waiter is not send.waiter:
                return sender, receiver
    return None
