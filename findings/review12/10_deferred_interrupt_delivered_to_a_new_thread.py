"""An exception mpsc defers "to be raised right after the call returns" (``_interrupts.DEFER``:
``PyThreadState_SetAsyncExc(get_ident(), cls)``) goes to *another* thread when the calling
thread created one a moment before: on CPython 3.11 a new thread's state carries its creator's
ident until the new OS thread first runs (``t_bootstrap`` sets it), and
``PyThreadState_SetAsyncExc`` arms the first thread state with a matching ident — the newest,
the new thread's. The caller never sees its interrupt (a Ctrl-C is silently dropped after a
call that took effect), and the new thread dies at its first instruction with "mpsc: no
deferred exception to raise" (its target never runs). Not on the free-threaded 3.13 build.

Where mpsc itself hits it: a handle's finalizer whose ``drop_collected`` hands the handle to the
reaper (``_endpoint._Reaper.drop_later`` starts the reaper thread) and is interrupted there:
``__del__``'s handler then ``finish``es, deferring the interrupt right after a thread creation.
Seen with real signals (probes/stress_new_dbg.py, KINDS=NNsN EXC=boom SPREAD=60): the log
shows the interrupt landing in ``drop_later``'s ``thread.start()``, then "Exception ignored in
thread started by: <bound method Thread._bootstrap of <Thread(mpsc-process-reaper, initial
daemon)>> ... Boom: mpsc: no deferred exception to raise" — the reaper died before running (and
the parent's interrupt was never raised). The window (thread created, not yet scheduled) is
microseconds: shown here with mpsc's own deferral primitive, exactly as ``finish`` uses it.

Promises: mpsc.process doc, Interrupts: "the call either did not happen ... or happened and
returns its result, the exception raised right after"; _interrupts doc: "CPython raises [it] at
the caller's next check point, after the caller has stored the result ... the exception is
raised in the user's frame. It is the same exception object".

Exit 1 if the deferred exception reaches the new thread instead of the caller.
"""

import _thread
import sys
import time

from mpsc._interrupts import DEFER, defer

print("Python", sys.version.split()[0])
seen_by_new_thread = []
ran = []
hook = sys.unraisablehook
sys.unraisablehook = lambda u: seen_by_new_thread.append(f"{u.exc_type.__name__}: {u.exc_value}")


def target():
    ran.append(True)


caller_saw = None
for _ in map(_thread.start_new_thread, (target,), ((),)):  # a thread, created just now
    break
try:
    defer(KeyboardInterrupt("meant for the caller"))  # as _interrupts.finish does
    for _ in DEFER:
        break
    for _ in range(50):  # the caller's next check points
        time.sleep(0.002)
except KeyboardInterrupt as exc:
    caller_saw = exc
time.sleep(0.3)
sys.unraisablehook = hook
print("the caller got:", repr(caller_saw))
print("the new thread ran its target:", bool(ran), "| what killed it:", seen_by_new_thread)
sys.exit(1 if caller_saw is None else 0)
