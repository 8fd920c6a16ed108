"""CPython 3.11 (not 3.10, 3.12, 3.13): a trace function that a finalizer run by the cyclic
collector removes with ``sys.settrace(None)`` is freed and then called -> segmentation fault.
No mpsc involved: the smallest reproduction of the crash behind findings/segv/01, for a report
upstream.

Promise (the sys.settrace documentation): the trace function is called for each new local scope
entered, and ``sys.settrace(None)`` removes it; nothing says a trace function may not remove
itself, and the tests' Injector does (it stops tracing before it raises).

What happens (3.11.7, Python/ceval.c ``call_trace``): for a 'call' event the interpreter reads
the trace object (a borrowed reference), then makes the callee's frame object -- an allocation
that may start a collection -- before it marks the thread as tracing. A finalizer the collector
runs there is itself traced; if the trace function calls ``sys.settrace(None)`` in it, the
thread state drops what may be the only reference to the trace object (here a fresh bound
method), and ``trace_trampoline`` -> ``call_trampoline`` (Python/sysmodule.c:950) then calls
freed memory. Workaround: keep a reference to the trace function for as long as it is
installed, or disable the collector while tracing (tests/checkpoints.py now does both).

Exits 1 if the child interpreter crashes (it runs under PYTHONMALLOC=debug, so that the use of
freed memory faults at once), 0 otherwise. Bounded: 60 s.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = r"""
import gc, sys

class Tracer:
    def trace(self, frame, event, arg):
        if frame.f_code is Garbage.__del__.__code__:
            sys.settrace(None)  # the thread state held the only reference to this bound method
        return None

class Garbage:
    def __del__(self):
        pass

def target():
    pass

for k in range(1, 12):
    for _ in range(3):
        gc.collect()
        g = Garbage(); g.self = g; del g  # a cycle with a finalizer: for the collector
        gc.set_threshold(k)  # collect at one of the next few allocations
        sys.settrace(Tracer().trace)
        target()  # its 'call' event makes a frame object: a collection there runs __del__, traced
        sys.settrace(None)
        gc.set_threshold(700)
print("no crash")
"""


def main() -> int:
    env = dict(os.environ, PYTHONMALLOC="debug")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD], check=False, env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        print("the child did not finish in 60 s")
        return 1
    print(f"CPython {sys.version.split()[0]}: child exit status {proc.returncode}")
    if proc.returncode < 0:
        print(f"DEFECT: the interpreter crashed (signal {-proc.returncode})")
        return 1
    print(proc.stdout.strip() or proc.stderr.strip()[-500:])
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
