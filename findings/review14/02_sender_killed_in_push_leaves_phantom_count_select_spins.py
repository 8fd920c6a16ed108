"""A sender killed inside a push, after ``h->count += 1`` and before ``h->tail`` is advanced
(``write_record2`` in ``_ring.h``: the compiler stores ``count`` first), leaves ``count`` one
higher than the records in the ring, for good. The robust mutex's next locker only marks the
lock consistent ("nothing it did was published"), but ``count`` *was* changed. ``select`` on a
Receiver of that channel uses ``len(ring)`` (``_select.Source``: "if len(ring): watch a
ready-now fd"), so from then on every select on the empty channel busy-loops at 100% CPU until
its timeout, and a select without timeout spins forever.

Promises: README "a process killed at any instant leaves no lock held and no torn message";
_ring.c "Nothing a killed holder did is half-visible"; DESIGN §4.3 (a blocked select sleeps
until a value arrives; not a busy loop).

What happens: under gdb, the sender process is SIGKILLed right after its first write to the
ring header's ``count`` word (a hardware watchpoint: an exact "killed at any instant"). Another
process then runs ``mpsc.select(rx, timeout=1)`` on the empty channel: it burns ~1 s of CPU
(vs ~0 before the kill). Deterministic (every run). Exit 1 if the select burns > 0.5 s CPU.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _gdbkill import run_killed_after_write  # noqa: E402

CHILD = r'''
import mmap, os, signal, sys, time
sys.path.insert(0, %(here)r)
import mpsc, mpsc.process as mpp
from _gdbkill import ring_base_in_this_process
tx, rx = mpp.channel()
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the observer (not traced): keeps a Sender (the channel stays open) and rx
    os.close(w)
    os.read(r, 1)  # until the traced sender is gone
    time.sleep(0.2)
    m = mmap.mmap(rx._ep.ring_fd, 4096)
    count, head, tail = (int.from_bytes(m[o:o + 8], "little") for o in (64, 48, 56))
    print("RESULT header: count=%%d records-bytes=%%d" %% (count, tail - head), flush=True)
    t0 = time.process_time()
    try:
        mpsc.select(rx, timeout=1.0)
        print("RESULT select returned?!", flush=True)
    except mpsc.Timeout:
        pass
    except Exception as exc:
        print("RESULT select raised", repr(exc), flush=True)
    print("RESULT cpu %%.3f" %% (time.process_time() - t0), flush=True)
    os._exit(0)
os.close(r)
rx.close()  # (this process keeps tx only: one ring mapping)
base = ring_base_in_this_process()
open(sys.argv[1], "w").write(str(base + 64))  # Header.count
os.kill(os.getpid(), signal.SIGUSR1)  # gdb sets the watchpoint here
tx.send("x")
print("RESULT not killed", flush=True)
'''

here = os.path.dirname(os.path.abspath(__file__))
out = run_killed_after_write(CHILD % {"here": here})
lines = [line for line in out.splitlines() if line.startswith("RESULT") or "atchpoint" in line]
print("\n".join(lines))
cpu = [float(line.split()[-1]) for line in lines if line.startswith("RESULT cpu")]
if not cpu:
    print(out[-3000:])
    sys.exit(2)
sys.exit(1 if cpu[0] > 0.5 else 0)
