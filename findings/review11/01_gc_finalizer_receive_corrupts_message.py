"""A finalizer that receives from another process channel corrupts a large message being received.

Promise (mpsc.process docstring): "Values larger than 64 KiB travel in a memfd", and (README /
DESIGN) no message is lost; a receive returns the value that was sent. _steps.c says of its
static receive buffer: ``static char datagram[HEADER + 65536]; /* used only while the GIL is
held */`` -- and its own comment in ``receive`` admits "a finalizer run by a collection could"
run there.

What happens: the compiled receive reads a datagram into that one static buffer and, for any
datagram that is not plain (a large value's memfd, a handle inside, flags), builds the
``recvmsg`` tuple in ``as_recvmsg``: ``PyList_New`` and ``Py_BuildValue`` allocate GC objects
*before* ``PyBytes_FromStringAndSize(datagram, size)`` copies the buffer. An allocation may run
a garbage collection (synchronous on 3.11), which runs finalizers (``__del__``, weakref callbacks,
``gc.callbacks``). If one of those receives a message from another process channel, the compiled
step overwrites ``datagram`` with that message: the large value's header is replaced, and the
outer receive raises ``UnpicklingError`` -- the large message is consumed and lost.
Worse, for a small message carrying a handle (also built by ``as_recvmsg``) the overwritten
buffer decodes cleanly as the *other* channel's message: ``rx1.recv()`` silently returns the
value the finalizer just received from ``rx2`` (delivered twice), and rx1's own message is gone
with no error. MPSC_PURE=1 (the reference) returns every value, once.

Here: a cyclic object whose ``__del__`` does ``rx2.try_recv()`` becomes garbage right before
``rx1.recv()`` of a 200 KB value; GC threshold 1 makes the collection land at the first GC
allocation (the list free list is emptied first so ``PyList_New`` allocates). Under default
thresholds the same happens by chance in a program whose finalizers touch process channels
(it needs the list/tuple free lists empty and gen0 at its threshold at that allocation).
Python 3.11 only (the project's minimum and its venv): 3.12+ defers a collection to the next
eval-breaker check, so none runs inside ``as_recvmsg`` -- checked with 3.12.1 and 3.13.0 builds
of the same source (0 corrupted). Exit 1 when a large value is not received intact.
"""

import gc
import sys

import mpsc
import mpsc.process as mp
from mpsc.process import _implementation as impl

tx1, rx1 = mp.channel()
tx2, rx2 = mp.channel()
BIG = b"B" * 200_000
N = 20
for i in range(10 * N):
    tx2.send(("small", i, "s" * 40))
for i in range(N):
    tx1.send(BIG)

seen = []


class Finalizer:
    def __init__(self) -> None:
        self.me = self  # a cycle: freed by a collection

    def __del__(self) -> None:
        try:
            seen.append(rx2.try_recv())
        except mpsc.Empty:
            pass


bad = 0
old = gc.get_threshold()
gc.set_threshold(1)
try:
    for i in range(N):
        keep = [[] for _ in range(300)]  # empty the list free list: PyList_New must allocate
        Finalizer()
        try:
            v = rx1.recv()
            if v != BIG:
                bad += 1
                print("wrong value:", type(v).__name__, repr(v)[:60])
        except Exception as e:  # noqa: BLE001
            bad += 1
            print("recv raised", type(e).__name__, str(e)[:100])
        del keep
    # B: small messages carrying a handle: rx1 returns rx2's messages instead (silently).
    ht, hr = mp.channel()
    for i in range(N):
        tx1.send(("outer", i, ht))
    for i in range(N):
        keep = [[] for _ in range(300)]
        Finalizer()
        try:
            v = rx1.recv()
            if not (isinstance(v, tuple) and v[:2] == ("outer", i)):
                bad += 1
                print("rx1.recv() returned", v[:2] if isinstance(v, tuple) else v,
                      "instead of", ("outer", i))
        except Exception as e:  # noqa: BLE001
            bad += 1
            print("recv raised", type(e).__name__, str(e)[:100])
        del keep
finally:
    gc.set_threshold(*old)
print(f"implementation={impl.in_use()} messages={2 * N} lost/corrupted/duplicated={bad} "
      f"finalizer receives={len(seen)}")
sys.exit(1 if bad else 0)
