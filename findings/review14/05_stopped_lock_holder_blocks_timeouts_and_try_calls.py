"""A process *stopped* (SIGSTOP / job control, a debugger, a cgroup freezer) while it holds a
ring's lock -- it holds it for every push and take -- makes every other process's ring call
block in ``pthread_mutex_lock`` (``ring_lock`` in ``_ring.h``: trylock, then an unbounded
blocking lock with the GIL let go) until that process runs again: ``try_recv``, ``try_send``,
``recv_timeout(0.2)`` and ``send_timeout(0.2)`` do not return, and no signal handler (Ctrl-C)
runs meanwhile (CPython runs handlers only once the C call returns). On a socket channel (main),
a stopped peer never blocks another process's call.

Promises: DESIGN §4.7 "Blocking calls stay interruptible (Ctrl-C reaches a thread blocked in
recv)"; the API's timeouts / try_* ("does not wait"); README "a process killed at any instant
leaves no lock held" (a stopped one holds it as long as it is stopped).

What happens: under gdb, a sender is stopped right after its first write to the ring header's
``count`` (inside the lock) and kept stopped 3 s; meanwhile another process calls each of
``try_recv()``, ``recv_timeout(0.2)``, ``try_send()``, ``send_timeout(0.2)`` (one per run, in
a fresh observer) and times it: each takes ~3 s (until the holder is killed). Deterministic.
Exit 1 if any call takes over 1 s.
"""

import os
import subprocess
import sys
import tempfile

GDB_PY = r"""
import gdb, time
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("handle SIGUSR1 stop nopass")
gdb.execute("run")
addr = int(open(ADDR_FILE).read().strip(), 0)
gdb.execute("watch -l *(unsigned long *)%d" % addr)
gdb.execute("continue")
time.sleep(3.0)  # the holder stays stopped, holding the ring's lock
gdb.execute("kill")
"""

CHILD = r'''
import os, signal, sys, time
sys.path.insert(0, %(here)r)
import mpsc, mpsc.process as mpp
from _gdbkill import ring_base_in_this_process
tx, rx = mpp.channel()
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the observer (not traced)
    os.close(w)
    time.sleep(1.0)  # the traced sender is stopped inside the lock by now
    call = %(call)r
    t0 = time.monotonic()
    try:
        if call == "try_recv":
            rx.try_recv()
        elif call == "recv_timeout":
            rx.recv_timeout(0.2)
        elif call == "try_send":
            tx.try_send("o")
        else:
            tx.send_timeout("o", 0.2)
        outcome = "returned"
    except Exception as exc:
        outcome = type(exc).__name__
    print("RESULT %%s %%s after %%.2f s" %% (call, outcome, time.monotonic() - t0), flush=True)
    os._exit(0)
os.close(r)
rx.close()
open(sys.argv[1], "w").write(str(ring_base_in_this_process() + 64))
os.kill(os.getpid(), signal.SIGUSR1)
tx.send("x")
'''

here = os.path.dirname(os.path.abspath(__file__))
worst = 0.0
for call in ("try_recv", "recv_timeout", "try_send", "send_timeout"):
    d = tempfile.mkdtemp(prefix="mpsc-gdb-")
    addr_file = os.path.join(d, "addr")
    with open(os.path.join(d, "child.py"), "w") as f:
        f.write(CHILD % {"here": here, "call": call})
    with open(os.path.join(d, "g.py"), "w") as f:
        f.write(f"ADDR_FILE = {addr_file!r}\n" + GDB_PY)
    out = subprocess.run(
        ["gdb", "-nx", "-batch", "-x", os.path.join(d, "g.py"), "--args", sys.executable, os.path.join(d, "child.py"), addr_file],
        capture_output=True, text=True, timeout=60,
    ).stdout
    lines = [line for line in out.splitlines() if line.startswith("RESULT")]
    print("\n".join(lines) or out[-2000:])
    for line in lines:
        worst = max(worst, float(line.split()[-2]))
sys.exit(1 if worst > 1.0 else 0)
