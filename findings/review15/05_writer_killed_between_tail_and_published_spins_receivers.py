"""A sender killed between ``h->tail += ...`` and ``published = tail`` (``write_record2``,
``_ring.h``) leaves ``published`` behind ``tail``: once the record is taken, ``ready()`` (which
compares ``published`` with ``head``) says "a record may be there" on an empty ring until the
next push, and every ``select`` and pure receive on the channel busy-loops at 100 % CPU.

Promises: review 14's fix (DESIGN.md §10 "*No count beside the records.* A kill between two
stores would leave it wrong for good (a select spun on it)"); _ring.c "Nothing a killed holder
did is half-visible: a writer publishes a record by advancing ``tail`` after writing it";
/work/shared/DESIGN.md §4.3 (a blocked receive sleeps until a value arrives).

What happens: ``published`` is a second copy of ``tail`` (for looks without the lock), stored
after it: the same two-store window as review 14/02's ``count``. The robust mutex's next
locker marks the lock consistent and nothing repairs ``published``. The record the dead sender
wrote is visible under the lock (``tail`` moved) and is taken; then ``head == tail`` but
``published != head``: ``_select.Source.enqueue_locked`` sees ``ring.ready()`` and watches an
always-ready fd, so ``mpsc.select(rx, timeout=1)`` spins for the whole second (without a
timeout: until another sender pushes, for ever on an idle channel); the pure receive loop
(``recv_timeout``, and ``recv``/iteration once their compiled step hands over) does ``_ring_spin`` -> ready -> take -> nothing -> again.
Before the taken record the same stale word hides a record instead (``ready()`` false with one
there). Under gdb the sender is SIGKILLed right after its first write to the header's ``tail``
word (a hardware watchpoint: "killed at any instant", at an exact instant). Another live sender
keeps the channel open (idle), as a second producer would.

Exit 1 when the select or the receive burns more than half of its 1 s timeout in CPU.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _gdbkill import run_killed_after_write  # noqa: E402

CHILD = r'''
import os, signal, sys, time
sys.path.insert(0, %(here)r)
import mpsc, mpsc.process as mpp
from _gdbkill import ring_base_in_this_process
tx, rx = mpp.channel()
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # the observer (not traced): keeps an idle Sender (the channel stays open) and rx
    os.close(w)
    os.read(r, 1)  # until the traced sender is gone
    time.sleep(0.2)
    print("RESULT taken: %%r" %% (rx.recv_timeout(1.0),), flush=True)
    for name, call in [("select(rx, timeout=1)", lambda: mpsc.select(rx, timeout=1.0)),
                       ("recv_timeout(1)", lambda: rx.recv_timeout(1.0))]:
        t0, c0 = time.monotonic(), time.process_time()
        try:
            call()
            print("RESULT %%s returned?!" %% name, flush=True)
        except mpsc.Timeout:
            pass
        except Exception as exc:
            print("RESULT %%s raised %%r" %% (name, exc), flush=True)
        print("RESULT %%s: cpu %%.3f s in %%.3f s" %% (name, time.process_time() - c0, time.monotonic() - t0), flush=True)
    os._exit(0)
os.close(r)
rx.close()  # (this process keeps tx only: one ring mapping)
base = ring_base_in_this_process()
open(sys.argv[1], "w").write(str(base + 56))  # Header.tail
os.kill(os.getpid(), signal.SIGUSR1)  # gdb sets the watchpoint here
tx.send("x")
print("RESULT not killed", flush=True)
'''

here = os.path.dirname(os.path.abspath(__file__))
out = run_killed_after_write(CHILD % {"here": here})
lines = [line for line in out.splitlines() if line.startswith("RESULT") or "atchpoint" in line]
print("\n".join(lines))
cpu = [float(line.split()[-5]) for line in lines if ": cpu " in line]
if len(cpu) < 2:
    print(out[-3000:])
    sys.exit(2)
bad = max(cpu) > 0.5
print("DEFECT: receivers spin on a stale 'published'" if bad else "ok")
sys.exit(1 if bad else 0)
