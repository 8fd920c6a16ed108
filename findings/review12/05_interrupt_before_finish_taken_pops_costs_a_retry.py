"""Compiled receive of a message that carries fds (a handle, or a large value): an interrupt that
lands as ``_handles._finish_taken`` starts — before it has popped the datagram from its holder
(e.g. as ``_Receiving(endpoint)`` starts) — is passed back by ``_steps.c`` (``finished``) as
``landed``, and ``_finish_taken`` books *every* such ``landed`` as an interrupt "in the value's
own unpickling: one try is spent" (``call.interrupted, call.failures = landed, 1``), though no
unpickling has started. The message then gets one retry fewer: an interrupt that landed outside
the value's code, plus three in it, make it unreadable — lost, and the caller gets the first
interrupt — where three in it alone are survived (value returned, interrupt raised after).

Promise: DESIGN.md "A receive returns what it took": "anything else landed in the value's own
Python code (its reducers, a handle's adoption), and the value is unpickled again, up to three
times"; mpsc.process doc: "a value whose own Python code runs as it unpickles ... is unpickled
again when an interrupt lands in that code, and after three such interrupts in one receive the
message counts as unreadable" (here the count includes one that did not land in that code).
Also: "whatever exception lands in a call ..., the call either did not happen ... or happened
and returns its result".

Seen with real signals: probes/stress_new.py (SIGALRM every 50-110 us) lost a producer's
message in about 1 run of 4; the losing receive had 4 interrupts, its exception's traceback
``_finish_taken -> _finish_taken -> _Receiving.__init__ -> handler`` (re-raised by ``settle`` as
the "first interrupt" once unreadable).

Here, deterministically: the value's reconstructor raises KeyboardInterrupt on its first three
runs (an interrupt landing in the value's own code, three times), the message also carries a
handle (so the compiled receive hands it to ``_finish_taken``); with a KeyboardInterrupt as
``_Receiving.__init__`` starts in the first call of ``_finish_taken``, the message is lost.
Compiled implementation only (the pure receive has no such hand-over). Exit 1 if lost there and
not without it.
"""

import os
import sys

import mpsc
import mpsc.process as mpp
from mpsc.process import _channels, _handles, _implementation

print("implementation:", _implementation.in_use())
if _implementation.in_use() != "compiled":
    print("the compiled steps are not in use: nothing to show")
    sys.exit(0)

runs = {"left": 0}


def rebuild(tag):
    if runs["left"]:
        runs["left"] -= 1
        raise KeyboardInterrupt  # as an interrupt landing in the value's own code
    return Value(tag)


class Value:
    def __init__(self, tag):
        self.tag = tag

    def __reduce__(self):
        return (rebuild, (self.tag,))


RealReceiving = _handles._Receiving


class Interrupted(RealReceiving):
    """_Receiving whose construction is interrupted once (a KeyboardInterrupt as it starts)."""

    __slots__ = ()
    left = [0]

    def __init__(self, endpoint):
        if Interrupted.left[0]:
            Interrupted.left[0] -= 1
            raise KeyboardInterrupt
        super().__init__(endpoint)


def nop():
    pass


def attempt(early):
    # (A socket channel, whose compiled receive this is about: where the shared-memory ring is
    # built, an unbounded channel has one, and takes a message with fds in the pure code.)
    _channels.RING = None
    tx, rx = mpp.channel()
    otx, orx = mpp.channel()
    tx.send(("v", Value("x"), otx))
    otx.close()
    runs["left"] = 3
    Interrupted.left[0] = 1 if early else 0
    _handles._Receiving = Interrupted
    got = None
    outcome = ""
    try:
        got = rx.try_recv()
        nop()
        outcome = "value"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt" + (" after the value was returned" if got is not None else "")
    except Exception as exc:  # noqa: BLE001
        outcome = repr(exc)
    finally:
        _handles._Receiving = RealReceiving
    try:
        later = rx.try_recv()
    except mpsc.Empty:
        later = None
    received = got is not None or later is not None
    print(
        f"{'one interrupt before the pop + ' if early else ''}three in the value's code: "
        f"{outcome}; message received: {received}; reconstructor runs left: {runs['left']}"
    )
    for v in (got, later):
        if v is not None:
            v[2].close()
    for h in (tx, rx, orx):
        h.close()
    return received


control = attempt(False)
lost_early = not attempt(True)
sys.exit(1 if control and lost_early else 0)
