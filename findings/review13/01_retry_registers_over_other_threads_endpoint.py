"""Review 12/01's fix re-registers the adoption's endpoint on the retry (``joined(adoption.endpoint)``
in ``_travel._from_message``) *outside* ``_adopting`` and unconditionally: between the interrupt in
``joined()`` (first attempt) and the retry, another thread adopting the same side finds no
registered endpoint, makes its own (E2) and registers it; the retry then overwrites the
registration with E1. The process now holds that side on two Endpoints (two sockets, two sets of
credit-pipe ends and ledger rows), and later arrivals join E1 while the other thread's handle stays
on E2 — exactly what review 12/01 and 12/03 were fixed to prevent.

Promise: _travel docstring / README "Clones within one process share one endpoint: a handle
arriving in a process that already holds the same side of the same channel joins that endpoint,
and the fds it brought are closed."; _travel._adopting: "Held from looking for this process's
endpoint of a side to registering a new one".

What happens: the main thread receives a message carrying a Sender of channel C (this process
holds no Sender of C). A signal handler (a real pending signal: CPython's own check points)
raises KeyboardInterrupt as ``joined`` starts (the 8 check points review 12/01 found there
behave the same); at the next check point — the start of the retry's ``_from_message``, where
the GIL may switch to any thread — another thread receives a second message carrying a Sender
of C. The two received Senders are on two Endpoints. Both implementations (the compiled receive
hands fd-carrying messages to ``_handles._finish_taken``). Exit 1 if so.
"""

import _thread
import gc
import os
import signal
import sys
import threading

import mpsc.process as mpp
from mpsc.process import _travel
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())

# The registration's code: ``joined`` when this was found; since the fix (``Adoption.register``,
# which joins an endpoint registered meanwhile) ``_registered``, where the interrupt lands now.
JOINED = getattr(_travel, "_registered", _travel.joined).__code__
FROM_MESSAGE = _travel._from_message.__code__


def checkpoint():
    pass


def run(cap):
    k1tx, k1rx = mpp.channel()
    k2tx, k2rx = mpp.channel()
    otx, orx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    k1tx.send(("a", otx))
    k2tx.send(("b", otx))
    otx.close()  # this process holds no Sender of C now
    state = {"fired": False, "ran_b": False, "on": True}
    got_b = []

    def other_thread():
        got_b.append(k2rx.recv_timeout(5))

    def pend():
        for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)):
            break

    def handler(signum, frame):
        if not state["on"]:
            return
        if not state["fired"] and frame is not None and frame.f_code is JOINED:
            state["fired"] = True
            pend()
            raise KeyboardInterrupt("landed in joined()")
        if state["fired"] and frame is not None and frame.f_code is FROM_MESSAGE:
            state["on"] = False
            state["ran_b"] = True
            t = threading.Thread(target=other_thread)
            t.start()
            t.join(10)
            return
        pend()

    previous = signal.signal(signal.SIGUSR2, handler)
    got_a = []
    exc = None
    try:
        try:
            pend()
            got_a.append(k1rx.recv_timeout(5))
            state["on"] = False
            checkpoint()  # an interrupt raised "right after the return" lands here
        except BaseException as e:  # noqa: BLE001
            exc = e
    finally:
        state["on"] = False
        signal.signal(signal.SIGUSR2, previous)
    problems = []
    if not state["fired"] or not state["ran_b"]:
        problems.append(f"scene did not happen: {state}")
    if len(got_a) != 1 or len(got_b) != 1:
        problems.append(f"received a={got_a!r} b={got_b!r} exc={exc!r}")
    else:
        ha, hb = got_a[0][1], got_b[0][1]
        if ha._ep is not hb._ep:
            problems.append(
                f"two endpoints of one side (capacity {cap}): thread A's {id(ha._ep):#x}, thread B's "
                f"{id(hb._ep):#x}; registered: {id(_travel._joined.get((ha._ep.chan_id, 'Sender'))):#x}"
            )
        ha.close()
        hb.close()
    for h in (k1tx, k1rx, k2tx, k2rx, orx):
        h.close()
    gc.collect()
    return problems


bad = 0
for cap in (None, 2, 0):
    for p in run(cap):
        print("DEFECT:" if "two endpoints" in p else "note:", p)
        bad += "two endpoints" in p
sys.exit(1 if bad else 0)
