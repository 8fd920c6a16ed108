"""On 3.11, a garbage collection inside ``Ring.take`` runs finalizers while this process holds
the channel's process-shared ring lock: a finalizer that uses the same channel waits for a lock
its own thread holds (a blocking send never returns), and every other process is locked out.

Promises: mpsc/_core.py "User objects are never released while the lock is held (their
``__del__`` could call back into the channel)" — the thread channels' rule, which the ring's
lock does not keep; DESIGN.md §10 "*A holder that does not run holds nobody up.*"; _ring.c
"A holder keeps it for a copy of a record"; /work/shared/DESIGN.md §4.3 no deadlock.

What happens: ``ring_take`` (``_ring.c``; every pure receive: select, recv_async, markers,
a compiled step that fell back) builds its result under the lock: ``PyList_New(0)`` and
``Py_BuildValue`` (a tuple) — and, for a marked datagram, more lists in ``receive_datagram``.
These are GC-tracked allocations; on CPython 3.11 (the project's main venv) an allocation past
the threshold runs a collection right there (when the free lists are empty), which runs
``__del__`` methods and weakref callbacks, arbitrary Python code, with the robust mutex held.
A finalizer that sends on the same channel: the compiled step's trylock fails, the pure push
waits 20 ms on the (normal, non-recursive) mutex its own thread owns, gets TimeoutError, sleeps
10 ms, again, for ever (``send``) or until its timeout; meanwhile every other process of the
channel finds the lock busy: its try_* calls fail, its sends and receives wait. (Here a
``send_timeout(.., 1.0)`` in the finalizer times out on an almost empty unbounded channel, and
another process's ``send_timeout(.., 0.5)`` times out meanwhile. The free lists are emptied and
``gc.set_threshold(1)`` is set to hit the allocation quickly; with default settings it happens
whenever a collection falls due at that allocation.)

Exit 1 when the finalizer's send (or the other process's) times out on the unbounded channel.
"""

import gc
import os
import sys
import time

import mpsc
import mpsc.process

if sys.version_info >= (3, 12):
    print("3.12+ runs collections at the next check point, not inside C: not applicable")
    sys.exit(0)

tx, rx = mpsc.process.channel()
go_r, go_w = os.pipe()
res_r, res_w = os.pipe()
pid = os.fork()
if pid == 0:  # another process of the channel
    os.read(go_r, 1)
    t0 = time.monotonic()
    try:
        tx.send_timeout("from another process", 0.5)
        os.write(res_w, b"S")
    except mpsc.Timeout:
        os.write(res_w, b"T")
    except BaseException:
        os.write(res_w, b"?")
    os._exit(0)

seen = []


class Garbage:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

    def __del__(self):
        Garbage()  # some garbage is always pending
        try:
            caller = sys._getframe(1).f_code.co_name
        except ValueError:
            return
        if caller == "take_from" and not seen:  # a collection during Taking.take_from's ring.take
            # Inside the C call's lock? (Asked of the ring, not by a send: outside it each send
            # would stay in the channel, and, one per collection, fill the ring. Changed in
            # session 28, after the fix; the old code answers the same way: a lock its own
            # thread holds is busy for 20 ms, then TimeoutError, now _ring.Busy.)
            try:
                tx._ep.ring.room()
                return  # outside it: the lock is free
            except Exception:
                pass  # inside it: the lock is this thread's
            t0 = time.monotonic()
            os.write(go_w, b"g")
            try:
                tx.send_timeout("from a finalizer", 1.0)
                outcome = "sent"
            except mpsc.Timeout:
                outcome = "Timeout"
            seen.append((outcome, time.monotonic() - t0))


Garbage()
gc.set_threshold(1)
try:
    for i in range(5000):
        tx.send(i)
        hold = [[] for _ in range(300)] + [(i, i, i, i + j) for j in range(300)]  # empty free lists
        mpsc.select(rx, timeout=1.0)
        del hold
        if seen:
            break
finally:
    gc.set_threshold(700)
    Garbage.__del__ = lambda self: None
    gc.collect()
other = "not run"
if seen:
    other = {b"S": "sent", b"T": "Timeout", b"?": "error"}[os.read(res_r, 1)]
else:
    os.write(go_w, b"g")
    os.read(res_r, 1)
os.waitpid(pid, 0)
if not seen:
    print("no collection fell inside the ring's lock in 5000 tries")
    sys.exit(0)
outcome, took = seen[0]
# the ring's lock free: is the channel still usable?
print(f"finalizer's send_timeout(1.0) on an almost empty unbounded channel: {outcome} after {took:.2f} s; "
      f"another process's send_timeout(0.5) meanwhile: {other}")
bad = outcome == "Timeout" or other == "Timeout"
print("DEFECT: finalizers run under the process-shared ring lock" if bad else "ok")
sys.exit(1 if bad else 0)
