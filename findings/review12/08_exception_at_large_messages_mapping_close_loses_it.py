"""A large message (its pickle in a memfd) that carries a handle: an ``Exception`` raised by a
signal handler that lands in the handle's adoption, then a second one landing at the check point
right after ``mapping.close()`` in ``_wire._decode``'s ``finally`` (mpsc's own code, after
``pickle.loads`` is out), make the message count as the value's own error: consumed, lost, the
second exception raised. ``_unpickling_failed`` looks only at the last exception's traceback
(``came_through(exc, _ADOPTION)``); that one went through ``_decode``'s ``finally``, not the
adoption, although it landed in mpsc's code and replaced (as ``__context__``) one that came out
of the adoption. With KeyboardInterrupt (not an ``Exception``) both count as interrupts and the
message is unpickled again. Same with a first KeyboardInterrupt landing in the value's own
reconstructor and a second, ``Exception``, at that ``mapping.close()`` (not scripted).

Promises: mpsc.process doc: "in mpsc's own part of unpickling, a carried handle's adoption, any
exception counts as an interrupt" (and only "an interrupt that is an Exception ... landing in
the value's own code is taken for the value's error"); Interrupts: "whatever exception lands in
a call ..., the call either did not happen ... or happened and returns its result"; DESIGN.md "A
receive returns what it took".

What happens: the message ("h", Sender, Receiver, 70 000 bytes), both sides of a bounded(2)
channel this process closed; two ``Exception``s (as a signal handler raises them at CPython's
own check points, the tests' SignalInjector way) at two consecutive check points, for each
first point of the receive. Exit 1 if the message is lost where the second landed at
``mapping.close()``.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import InjectedError, SignalInjector, quietly  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def scene(n, m):
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    tx.send(("h", otx, orx, b"x" * 70_000))
    otx.close()
    orx.close()
    out = []
    inj = SignalInjector(n, m, InjectedError)
    _, exc = quietly(inj, lambda: out.append(rx.recv_timeout(5)))
    got = list(out)
    try:
        got.append(rx.try_recv())
    except mpsc.Empty:
        pass
    both = len(inj.raised) == 2
    where = inj.where
    context = exc.__context__ if exc is not None else None
    for v in got:
        v[1].close()
        v[2].close()
    lost = both and not got
    detail = (repr(exc), repr(context)) if lost else None
    del out, got, exc, inj, context
    tx.close()
    rx.close()
    gc.collect()
    return len(where.split()), lost, where.strip(), detail


scene(0, 1)
cases = []
n = 0
while True:
    n += 1
    fired, lost, where, detail = scene(n, 1)
    if fired == 0:
        break
    if lost and "_decode" in where.split()[-1]:
        cases.append((n, where, detail))
print("first check points tried:", n - 1)
for n, where, detail in cases[:5]:
    print(f"  at {n} and {n + 1} ({where}): message lost; raised {detail[0]}, its context {detail[1]}")
print("lost:", len(cases))
sys.exit(1 if cases else 0)
