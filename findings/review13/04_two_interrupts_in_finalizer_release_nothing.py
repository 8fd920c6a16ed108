"""Two interrupts in a collected handle's finalizer release nothing: the side stays open for good.

Promise: DESIGN.md §5 names one finalizer limit only — "a finalizer interrupted at its very first
instruction runs nothing" — and promises for "two interrupts close together: the second ...
takes its place ... and the work is still finished"; review 12/09's fix: "``__del__``'s handler
covers the check point after ``sys.is_finalizing()``" and "the reaper finishes the release (if it
was not done)" (_handles._Handle.__del__).

What happens: the first interrupt lands in ``__del__`` after ``is_finalizing()`` or in
``drop_collected`` before it took the lock (or, when another thread holds the endpoint's lock,
anywhere before the handle is queued for the reaper); ``__del__``'s handler then runs
``getattr(self, "_ep", None)`` and ``endpoint_reaper(endpoint, self)`` → ``drop_later`` →
``_queue.put``: three unguarded check points (getattr's return, the two function starts). A
second interrupt there escapes the finalizer (reported as unraisable and dropped): the handle is
neither released nor queued. Its endpoint keeps ``handles=1`` for ever: the peer never sees the
side go (a receiver waits for ever), its fds leak. Every pair of CPython check points (real
pending signal) of dropping the last reference to a Sender, with the endpoint's lock free and
held by another thread. The point-1 single interrupt (documented) is not counted. The check
point after ``is_finalizing()`` was itself unguarded before d626503 (review 12/09); the
handler's own unguarded points are pre-existing (4633a47 has the same handler). Exit 1 if any pair
releases nothing.
"""

import gc
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _pairs import Injected, disconnected, run  # noqa: E402

import mpsc.process as mpp  # noqa: E402


def scene(held, targets):
    tx, rx = mpp.channel()
    ep = tx._ep
    holder = [tx]
    del tx
    stop, got = threading.Event(), threading.Event()
    if held:

        def hold():
            with ep.lock:
                got.set()
                stop.wait(5)

        th = threading.Thread(target=hold)
        th.start()
        got.wait(5)
    hits, where, exc = run(holder.clear, targets, Injected)
    if held:
        stop.set()
        th.join(5)
    del exc
    gc.collect()
    problems = []
    if not disconnected(rx, "tx"):
        problems.append(f"Sender never released (handles={ep.handles} closed={ep.closed})")
    rx.close()
    return hits, where, problems


bad = 0
for held in (False, True):
    n = 1
    while scene(held, [n])[0]:
        n += 1
    for a in range(2, n):
        for m in range(1, 12):
            hits, where, pr = scene(held, [a, a + m])
            if hits < 2:
                break
            if pr:
                bad += 1
                print(f"lock {'held' if held else 'free'}: interrupts at points {a},{a + m} ({where.strip()}): {pr[0]}")
print("pairs releasing nothing:", bad)
sys.exit(1 if bad else 0)
