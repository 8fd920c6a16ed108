"""On CPython 3.11, one thread whose ``start()`` was interrupted at the wrong check point stays in
``threading._limbo`` for good, and from then on every interrupt mpsc delivers "right after the
return" first waits 50 ms (``_interrupts._wait_started`` times out each time), in every thread,
for the life of the process.

Promise: d8a5ae9 / REPORT 12/10 "on 3.11, ``_interrupts.defer`` first waits (at most 50 ms) until
no thread started with ``threading`` is still unstarted"; DESIGN §5 "the exception is raised
right after" the return; README "Between processes": a receive costs microseconds. The wait is
meant to cover the moment a thread that this thread just started has not run yet.

What happens: ``Thread.start`` puts the thread in ``_limbo`` under ``_active_limbo_lock``, then
calls ``_start_new_thread``; a KeyboardInterrupt at the check point where the ``with`` block's
``__exit__`` returns (check point 2 of ``start``; Ctrl-C can land there in any program that
starts threads — mpsc's own reaper start in ``_Reaper.drop_later`` included) leaves the Thread
object in ``_limbo`` and never started: ``except Exception`` in ``start`` does not catch a
KeyboardInterrupt. ``_UNSTARTED`` is then never empty: each ``defer`` sleeps in 0.1 ms steps
until its 50 ms deadline, holding up the call that already took effect (a process-channel
``recv`` interrupted after it took its value returns 50 ms late, instead of in
microseconds), and adds ~4 check points per step where more interrupts land (each one restarts
``finish``). Measured: the slowest of the receives interrupted at each check point, with and
without such a thread. 3.11 only (``_UNSTARTED`` is None on 3.12+): exits 0 elsewhere. New in
d8a5ae9. Exit 1 if a deferred interrupt costs more than 40 ms with the thread in limbo.
"""

import _thread
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _pairs import Injected, run  # noqa: E402

import mpsc.process as mpp  # noqa: E402
from mpsc import _interrupts  # noqa: E402

if getattr(_interrupts, "_UNSTARTED", None) is None:
    print("not CPython < 3.12: no wait")
    sys.exit(0)

START = threading.Thread.start.__code__


def interrupted_start(n):
    """Start a thread with a KeyboardInterrupt at the n-th check point of Thread.start."""
    t = threading.Thread(target=lambda: None)
    st = {"c": 0, "on": True}

    def pend():
        for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)):
            break

    def handler(s, f):
        if not st["on"]:
            return
        if f is not None and f.f_code is START:
            st["c"] += 1
            if st["c"] == n:
                st["on"] = False
                raise KeyboardInterrupt
        pend()

    prev = signal.signal(signal.SIGUSR2, handler)
    try:
        try:
            pend()
            t.start()
        except KeyboardInterrupt:
            pass
    finally:
        st["on"] = False
        signal.signal(signal.SIGUSR2, prev)
    return t


def slowest_deferred(make):
    """The longest receive, over every check point, that returned its value and raised after."""
    worst = 0.0
    for n in range(1, 200):
        tx, rx = make()
        tx.send(b"x" * 70000)  # a large value: the compiled receive hands it to the pure code
        out = []
        t0 = time.perf_counter()
        hits, where, exc = run(lambda: out.append(rx.recv()), [n], Injected)
        took = time.perf_counter() - t0
        tx.close()
        rx.close()
        if not hits:
            break
        if out and exc is not None:  # taken, the interrupt raised right after the return
            worst = max(worst, took)
    return worst


kinds = {"process channel": mpp.channel}
before = {k: slowest_deferred(m) for k, m in kinds.items()}
stuck = None
for n in range(1, 6):
    t = interrupted_start(n)
    time.sleep(0.02)
    if t in threading._limbo and not t.is_alive():
        stuck = n
        break
print("thread left in threading._limbo by an interrupt at check point", stuck, "of Thread.start")
after = {k: slowest_deferred(m) for k, m in kinds.items()}
bad = False
for k in kinds:
    print(f"{k}: slowest receive with a deferred interrupt: {before[k] * 1e3:.2f} ms before, {after[k] * 1e3:.2f} ms after")
    bad |= stuck is not None and after[k] > 0.040
sys.exit(1 if bad else 0)
