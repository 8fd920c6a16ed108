"""``_travel._adopting`` is reentrant so that "a finalizer run by a collection inside an adoption
may receive a handle too" — but such a finalizer, receiving a handle of the side being adopted,
makes a second endpoint of it: the outer adoption has already looked (``joining`` found none) and
goes on to make and register its own.

Promise: README / _travel "Clones within one process share one endpoint: a handle arriving in a
process that already holds the same side of the same channel joins that endpoint"; the
``_adopting`` docstring: "Held from looking for this process's endpoint of a side to registering
a new one (reentrant: a finalizer run by a collection inside an adoption may receive a handle
too)".

What happens: thread-only, no interrupt. A message carrying a Sender of channel C (this process
holds none) is received; during its adoption (``Adoption.make``: ``Ledger``, ``Endpoint`` and
dict allocations, any of which may start a collection) a collection runs the finalizer of an
object (in a reference cycle) that receives from another carrier a message carrying a Sender of
C too. The RLock lets it in: it finds no endpoint, makes E2, registers it; the outer adoption
then makes E1 and registers it over E2. Two endpoints of one side. The collection is forced at
the start of ``Endpoint.__init__`` with a trace function (standing for the allocation that
triggers it). Both implementations. New in 731785c (the reentrant lock; before it, the same
happened without it). Exit 1 if the two Senders are on two endpoints.
"""

import gc
import sys

import mpsc.process as mpp
from mpsc.process import _endpoint
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())

k1tx, k1rx = mpp.channel()
k2tx, k2rx = mpp.channel()
otx, orx = mpp.sync_channel(2)
k1tx.send(("outer", otx))
k2tx.send(("inner", otx))
otx.close()
inner = []


class Finalized:
    def __init__(self):
        self.me = self  # a cycle: only a collection frees it

    def __del__(self):
        inner.append(k2rx.try_recv())


INIT = _endpoint.Endpoint.__init__.__code__
state = {"done": False}


def trace(frame, event, arg):
    if event == "call" and frame.f_code is INIT and not state["done"]:
        state["done"] = True
        sys.settrace(None)
        gc.collect()  # a collection started by an allocation of the adoption
        return None
    return trace


gc.disable()
Finalized()
sys.settrace(trace)
try:
    outer = k1rx.recv_timeout(5)
finally:
    sys.settrace(None)
    gc.enable()
a, b = outer[1], inner[0][1] if inner else None
print("finalizer received:", bool(inner))
split = b is not None and a._ep is not b._ep
print("outer Sender's endpoint", hex(id(a._ep)), "finalizer's", hex(id(b._ep)) if b else None)
sys.exit(1 if split else 0)
