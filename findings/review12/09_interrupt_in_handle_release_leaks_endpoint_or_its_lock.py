"""Releasing the last handle of a side (``close()``, or its collection) with one interrupt landing
at an ordinary check point leaves that side open for good, or its lock taken for good:

* at the start of ``Endpoint._settle_restarting`` (called by ``drop``/``drop_collected`` *after*
  ``handle._ep = None; handles -= 1``, and before its own ``try``): the handle is detached and
  uncounted, the Endpoint never marked closed, its fds never closed (the socket object is also
  held in ``_endpoint._sockets``, so not even the collector closes it). The channel never
  disconnects: a receiver waits for ever on a channel whose last Sender was closed. ``close()``
  raises the interrupt although it did release the handle.
* in a finalizer, at the check point right after ``self.lock.acquire(False)`` returns True in
  ``Endpoint.drop_collected`` (before the ``try`` whose ``finally`` releases it): the lock stays
  taken for ever. ``__del__``'s handler then queues the handle to the reaper thread, which blocks
  in ``drop``'s ``with self.lock`` for ever (and every handle queued after it is never released);
  closing another clone of that side hangs for ever (here, in a thread, bounded).

(Scenes run one after another in one process: once point 4 has left the reaper thread blocked,
a later scene whose finalizer hands its handle to the reaper — e.g. one interrupted as
``drop_collected`` starts — is never released either, and shows up too.)

Pre-existing (not part of 71149bf), found while checking that carried channels disconnect "once
every handle of the other side is closed and collected".

Promises: mpsc.process doc, Interrupts: "whatever exception lands in a call (Ctrl-C, a signal
handler's), the call either did not happen (it propagates, the channel is as it was) or happened
and returns its result, the exception raised right after"; ``close``: "Releasing the last
Sender anywhere lets receivers drain what was sent and then see RecvError"; DESIGN.md's limit
is only "a finalizer interrupted at its very first instruction runs nothing".

What happens: a KeyboardInterrupt at each check point of ``tx.close()`` (and of the collection of
``tx``, alone or with a clone alive), as a signal handler raises it (tests' SignalInjector); then the
exception and everything else is let go and collected, and ``rx.recv_timeout(0.5)`` says
whether the channel disconnected. Exit 1 if it stays connected after a close that happened, or
a clone's close hangs (the finalizer's very first instruction, documented, is not counted; the
check point right after its ``sys.is_finalizing()`` call, which does the same, is).
"""

import gc
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import SignalInjector  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def scene(n, how):
    tx, rx = mpp.channel()
    holder = [tx]
    clone = tx.clone() if how == "collected, a clone alive" else None
    del tx
    inj = SignalInjector(n, 10**9)
    hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        if how == "close()":
            _, exc = inj.call(lambda: holder[0].close())
        else:
            _, exc = inj.call(lambda: holder.clear())
    finally:
        sys.unraisablehook = hook
    fired, where = inj.fired, inj.where.strip()
    closed_by_call = not holder or holder[0]._ep is None  # the close happened (handle released)
    del inj, exc
    holder.clear()
    gc.collect()
    outcome = []
    if clone is not None:
        closer = threading.Thread(target=clone.close, daemon=True)
        closer.start()
        closer.join(2)
        if closer.is_alive():
            outcome.append("closing the clone hangs (the endpoint's lock is taken for good)")
    elif fired and not closed_by_call:
        return fired, where, None  # (the call did not happen: the handle was collected since)
    try:
        rx.recv_timeout(0.5)
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        outcome.append("the channel never disconnects (the Sender's side stays open)")
    rx.close()
    return fired, where, outcome


bad = 0
FIRST = f"_Handle.__del__:{mpp.Sender.__del__.__code__.co_firstlineno}"  # documented limit
for how in ("close()", "collected", "collected, a clone alive"):
    scene(0, how)
    n = 0
    while True:
        n += 1
        fired, where, outcome = scene(n, how)
        if not fired:
            break
        if outcome:
            documented = where == FIRST
            bad += not documented
            print(f"{how}: interrupt at point {n} ({where}): " + "; ".join(outcome)
                  + (" [the finalizer's first instruction: DESIGN's documented limit]" if documented else ""))
    print(f"{how}: {n - 1} check points")
sys.exit(1 if bad else 0)
