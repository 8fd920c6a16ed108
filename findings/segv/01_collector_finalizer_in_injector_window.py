"""The interrupt tests' Injector (tests/checkpoints.py) counts, and fires in, a finalizer that the
cyclic garbage collector happens to run inside the traced call; on CPython 3.11 firing there can
crash the interpreter (segmentation fault).

Promise (tests/checkpoints.py): "raises at the n-th of them inside mpsc — in its frames and in
those it calls": the check points of the one call ``Injector(n).call(fn)`` runs, so that "a test
can try every one: n = 1, 2, ... until n exceeds it".

What happens: a handle left in a reference cycle by an earlier test (a Sender whose ``__del__``
releases it through mpsc code) is finalized by the collector whenever an allocation inside the
traced window crosses the threshold. Its frames are mpsc's, so the trace function counts their
check points as the call's and may fire in them. Firing calls ``sys.settrace(None)``, which drops
the last reference to the bound method ``Injector._trace``. On 3.11 the collector can run while
a 'call' event is being dispatched: ``call_trace`` (Python/ceval.c) reads the trace object,
then makes the callee's frame object (a GC allocation, before it marks the thread as tracing),
and the finalizer run there is traced; after it, ``trace_trampoline`` calls the freed trace
object (Python/sysmodule.c, call_trampoline) -> SIGSEGV. This is the crash seen in
test_interrupts.py::test_a_hand_over_that_finds_the_value_taken_first_wakes_its_receiver_whatever_lands
after the process tests (the core's Injector had fired at Chan.settle_after_release_locked,
under Sender.__del__ of another channel's handle).

This script runs the scenario in a child (PYTHONMALLOC=debug, so that a use of freed memory
crashes at once) and exits 1 if the child crashed or the Injector counted a finalizer's check
points as the call's; 0 otherwise. Bounded: the child has 240 s.
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = r"""
import gc, sys
sys.path[:0] = [sys.argv[1] + "/src", sys.argv[1] + "/tests"]
from checkpoints import Injector
from helpers import make

tx, rx = make(None)
chan = rx._chan
kept = []

def cycle():
    s, r = make(0)
    kept.append(r)  # the receiver stays: the sender's release settles the channel
    holder = [s]
    holder.append(holder)  # only the collector frees it: its Sender.__del__ runs then
    return holder

def points(n, k):
    gc.collect()
    injector = Injector(n)
    holder = cycle()
    gc.set_threshold(k)  # the k-th allocation from here on collects
    del holder
    try:
        injector.call(chan.settle)
    finally:
        gc.set_threshold(700)
    gc.collect()
    return injector.points

points(10**9, 10**9)  # (CPython 3.12 instruments traced code on first use)
base = points(10**9, 10**9)
counted = []
for k in range(1, 40):
    seen = points(10**9, k)
    if seen != base:
        counted.append((k, seen))
for n in range(1, base + 30):
    for k in range(1, 40):
        points(n, k)  # fires in a finalizer run inside the window, if the collector runs one
print(f"the call's own check points: {base}; counted with a finalizer run inside: {counted}")
sys.exit(1 if counted else 0)
"""


def main() -> int:
    env = dict(os.environ, PYTHONMALLOC="debug", MPSC_PURE="1")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, ROOT],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        print("the child did not finish in 240 s")
        return 1
    print(proc.stdout.strip())
    if proc.returncode < 0:
        print(f"DEFECT: the interpreter crashed (signal {-proc.returncode})")
        print(proc.stderr.strip()[-1500:])
        return 1
    if proc.returncode != 0:
        print("DEFECT: the Injector counted check points of a finalizer the collector ran")
        print(proc.stderr.strip()[-1500:])
        return 1
    print("ok: nothing the collector runs is counted, no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
