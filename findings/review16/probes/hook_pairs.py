"""Probe (review 16): review 15/07 with TWO interrupts in the child's hook (K points apart).

Original: An interrupt landing in a forked child's ``_endpoint._after_fork_in_child`` (a signal that
arrives as the child starts: Ctrl-C goes to the whole foreground process group) stops the hook
halfway: the child keeps its parent's reaper, whose thread does not exist there, and every
release routed to the reaper in that child (a finalizer that found the endpoint's lock busy, or
was interrupted: review 13/04's path) is never done — the side stays open for the child's life.

Promises: /work/shared/DESIGN.md §4.7 "an interrupt never costs a message ... no waiter is left
that nobody wakes ... The same holds in a forked child"; DESIGN.md §10 "A fork copies only what
the child should hold"; mpsc/_fork.py's own rule ("a signal handler's exception landing there
would be reported and dropped by CPython"); e89e130 ("the reaper finishes the release").

What happens: CPython runs at-fork hooks as plain calls and reports and drops whatever they
raise. ``_after_fork_in_child`` has dozens of check points (WeakSet iteration, ``list()``,
``threading.Lock()``, the new ``_Reaper()``) before ``_reaper`` is replaced: an exception at any
of them leaves ``_reaper`` the parent's, with ``_thread`` set to a thread that never runs in the
child, so ``wake()`` returns at once for good (and, depending on the point, endpoint locks still
the parent's, ``busy`` counts of parent threads' calls, ``_carrying`` records not closed). Each
check point of the hook gets one real pending signal (as tests/checkpoints.py delivers them:
``_thread.interrupt_main``, armed by an at-fork hook registered before mpsc's, i.e. a signal
arriving as the child starts); the child then drops a Sender while its endpoint's lock is busy
and looks whether the release happened.

Exit 1 when any point leaves a child whose reaper-routed release never happens.
"""
import _thread, os, signal, sys, threading, time
K = int(os.environ.get("K", "1"))
class Landed(KeyboardInterrupt): pass
state = {"armed": False, "n": 0, "target": 0, "where": ""}
def handler(signum, frame):
    if not state["armed"]:
        return
    f = frame; inside = False
    while f is not None:
        if f.f_code.co_name == "_after_fork_in_child" or "mpsc" in f.f_code.co_filename:
            inside = True; break
        f = f.f_back
    if inside:
        state["n"] += 1
        if state["n"] in (state["target"], state["target"] + K):
            if state["n"] == state["target"] + K:
                state["armed"] = False
            state["where"] += f" {frame.f_code.co_qualname}:{frame.f_lineno}"
            if state["armed"]:
                for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)): break
            raise Landed()
    for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)): break
signal.signal(signal.SIGUSR2, handler)
def arm():  # runs in the child before mpsc's hook: a signal arriving as the child starts
    if state["target"]:
        state["armed"] = True
        for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)): break
os.register_at_fork(after_in_child=arm)
import mpsc, mpsc.process
from mpsc.process import _endpoint
# the parent's reaper running (a release went its way once)
a, b = mpsc.process.channel(); ep = a._ep
ep.lock.acquire(); del a; time.sleep(0.05); ep.lock.release(); time.sleep(0.05); b.close()
assert _endpoint._reaper._thread is not None
bad = 0
for target in range(1, 200):
    tx, rx = mpsc.process.channel()
    state["n"] = 0; state["target"] = target; state["where"] = ""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        state["target"] = 0
        os.close(r)
        # in the child: a release that goes to the reaper (the endpoint's lock busy)
        ep = tx._ep
        ep.lock.acquire()
        t = threading.Thread(target=lambda: (time.sleep(0.1), ep.lock.release())); t.start()
        del tx
        t.join(); time.sleep(0.3)
        fresh = _endpoint._reaper._thread is None or _endpoint._reaper._thread.is_alive()
        msg = f"{state['n']}|{state['where']}|pending={len(_endpoint._reaper.pending)}|reaper alive={fresh}"
        os.write(w, msg.encode()); os._exit(0)
    os.close(w)
    out = os.read(r, 1000).decode(); os.close(r)
    os.waitpid(pid, 0)
    n, where, pend, alive = out.split("|")
    if not where:
        print("points in the hook:", target - 1); break
    if target in (20, 60) or os.environ.get("V"): print(target, where, pend, alive)
    if pend != "pending=0":
        bad += 1
        print(f"interrupt at point {target} ({where}): {pend} {alive}")
    tx.close(); rx.close()
print(f"DEFECT: {bad} check points of the child's at-fork hook leave its releases undone" if bad else "ok")
sys.exit(1 if bad else 0)
