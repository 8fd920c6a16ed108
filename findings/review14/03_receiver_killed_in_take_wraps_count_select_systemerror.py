"""A receiver killed inside a take, after ``h->count -= 1`` and before ``h->head`` is advanced
(``ring_take`` in ``_ring.c``: the compiler stores ``count`` first), leaves the record in the
ring (right: the next receiver gets it) but ``count`` one lower than the records. When the
channel is drained, ``count`` wraps to 2**64-1; ``len(ring)`` (``ring_len``) then returns
``(Py_ssize_t)-1`` *without an exception set*, so ``mpsc.select`` on that Receiver (which calls
``len(ring)`` in ``_select.Source``) raises ``SystemError`` -- on every call, for good.

Promises: README "a process killed at any instant leaves no lock held and no torn message";
_ring.c "Nothing a killed holder did is half-visible"; DESIGN §4.3 / §4.8 (select works; errors
are clear ones).

What happens: under gdb, a receiving process is SIGKILLed right after its first write to the
header's ``count`` (hardware watchpoint); another process receives the two messages (fine),
then ``mpsc.select(rx, timeout=0.2)`` raises SystemError. Pure take (``use(False)`` in the
killed process; the compiled step stores ``count`` after ``head``, leaving a phantom count
as in 02 instead). Deterministic. Exit 1 if select raises SystemError (or does not time out).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _gdbkill import run_killed_after_write  # noqa: E402

CHILD = r'''
import mmap, os, signal, sys, time
sys.path.insert(0, %(here)r)
import mpsc, mpsc.process as mpp
from mpsc.process import _implementation
from _gdbkill import ring_base_in_this_process
tx, rx = mpp.channel()
tx.send("a")
tx.send("b")
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the observer (not traced): keeps tx and rx
    os.close(w)
    os.read(r, 1)  # until the traced receiver is gone
    got = [rx.recv_timeout(5), rx.recv_timeout(5)]
    m = mmap.mmap(rx._ep.ring_fd, 4096)
    count, head, tail = (int.from_bytes(m[o:o + 8], "little") for o in (64, 48, 56))
    print("RESULT received %%r; header: count=%%d records-bytes=%%d" %% (got, count, tail - head), flush=True)
    try:
        mpsc.select(rx, timeout=0.2)
        print("RESULT select returned?!", flush=True)
    except mpsc.Timeout:
        print("RESULT select timed out (fine)", flush=True)
    except BaseException as exc:
        print("RESULT select raised " + repr(exc) + "\n", end="", flush=True)
    os._exit(0)
os.close(r)
_implementation.use(False)
tx.close()  # (this process keeps rx only: one ring mapping)
base = ring_base_in_this_process()
open(sys.argv[1], "w").write(str(base + 64))  # Header.count
os.kill(os.getpid(), signal.SIGUSR1)  # gdb sets the watchpoint here
rx.recv()
print("RESULT not killed", flush=True)
'''

here = os.path.dirname(os.path.abspath(__file__))
out = run_killed_after_write(CHILD % {"here": here})
lines = [line for line in out.splitlines() if line.startswith("RESULT")]
print("\n".join(lines))
if not any("select" in line for line in lines):
    print(out[-3000:])
    sys.exit(2)
sys.exit(0 if any("timed out (fine)" in line for line in lines) else 1)
