"""``_endpoint._prune_noted`` takes the entry of a live thread off ``_noted`` when that thread
is not in ``threading.enumerate()`` (one started by ``_thread.start_new_thread``, or by C code):
a child forked meanwhile keeps the handle's duplicates that thread's send is pickling.

Promise (mpsc.process docstring, "fork"): "Handles that the parent's other threads had in flight
inside messages are closed in the child as it starts, except one received in the few steps
between its fds' arrival and their being noted"; _endpoint._noted: "An entry left behind holds
an emptied list ... harmless in a child" (and pruning is meant for "threads that ended").

What happens: every compiled send of a handle leaves its thread's entry in ``_noted`` (its list
emptied; only the pure send's ``encode`` calls ``unnoting``), so a program whose short-lived
threads send handles passes 64 entries soon. Then the next ``noting`` prunes by
``threading.enumerate()``, which lists only threads ``threading`` knows: a thread started with
``_thread.start_new_thread`` (a C extension's thread alike) that is inside its send's pickling
loses its entry, and its list of duplicated fds is noted nowhere until its message is carried
(the compiled send: never). Here such a thread pickles ``[h1, Trigger()]``; Trigger's pickling
lets 70 ``threading`` threads (alive at once) each send a handle (one past 64 prunes), then has the main thread
fork. Exit 1 if the child found the raw thread's duplicates of h1 still open.
"""

import _thread
import os
import sys
import threading

import mpsc.process as mpp
from mpsc.process import _endpoint, _implementation, _travel

print("implementation:", _implementation.in_use())

ctx, crx = mpp.channel()
xtx, xrx = mpp.channel()
stx, srx = mpp.channel()
state = {}
in_pickle, resume, finished = threading.Event(), threading.Event(), threading.Event()


class Trigger:
    def __reduce__(self):
        state["fds"] = list(_travel.local.outgoing)
        state["noted_before"] = _thread.get_ident() in _endpoint._noted
        in_pickle.set()
        resume.wait(20)
        return (int, ())


def raw():
    try:
        xtx.send([ctx, Trigger()])
    finally:
        finished.set()


_thread.start_new_thread(raw, ())
in_pickle.wait(20)


barrier = threading.Barrier(70)


def short_lived():
    barrier.wait(20)  # (alive together: 70 idents, none reused)
    stx.send(ctx.clone())


threads = [threading.Thread(target=short_lived) for _ in range(70)]
for t in threads:
    t.start()
for t in threads:
    t.join()
state["noted_after"] = any(v is not None and v == state["fds"] for v in _endpoint._noted.values())
print("entries in _noted:", len(_endpoint._noted))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    n = 0
    for fd in state["fds"]:
        try:
            os.fstat(fd)
            n += 1
        except OSError:
            pass
    os.write(w, bytes([n]))
    os._exit(0)
os.close(w)
open_in_child = os.read(r, 1)[0]
os.waitpid(pid, 0)
resume.set()
finished.wait(20)
print("raw thread's list noted before the short-lived threads:", state["noted_before"])
print("child found %d of the raw thread's %d duplicated fds open" % (open_in_child, len(state["fds"])))
sys.exit(1 if state["noted_before"] and open_in_child > 0 else 0)
