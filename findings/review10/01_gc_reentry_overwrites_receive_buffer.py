"""The compiled receive's static buffer is overwritten by a receive made from a garbage
collection that runs inside it: a large (memfd) or handle-carrying message is lost.

Promise (_steps.c, top comment and ``datagram``): "static char datagram[...]; /* used only while
the GIL is held */" and "a receive reads one datagram and, when it is ... anything else ... is
finished by the pure code (``_handles._finish_taken``), which settles it exactly as its own
receive would". mpsc.process docstring: "Values larger than 64 KiB travel in a memfd" and every
message is received exactly once.

What happens: ``receive`` reads the datagram into the module's static ``datagram`` buffer, and
for a datagram that carries fds, ``as_recvmsg`` first builds the ancillary list (tuples, a list:
allocations of GC-tracked objects) and only then copies ``datagram`` into a bytes object. On
CPython 3.11 such an allocation can start a garbage collection, which runs Python code
(finalizers, ``gc.callbacks``); if that code receives from any process channel (or merely lets
the GIL go, e.g. a finalizer closing a file, while another thread receives), the static buffer
holds *that* datagram when it is copied. The large message then arrives with another message's
header: its value is lost and an UnpicklingError (or a wrong value) comes out instead.
(Fix idea: copy ``datagram`` into the bytes object before any other allocation.)

Part 1: a ``gc.callbacks`` hook (standing for any finalizer) try_recv's from a second channel, and
``gc.set_threshold(10)`` with a varying number of allocations before each receive makes
one start at each of the receive's allocations in turn. Part 2: the hook only lets the GIL go
(``time.sleep``, as a finalizer closing a file does) while another thread sends and receives
small messages on a second channel. Part 3: as part 1 with small messages that carry a handle:
``rxa.try_recv()`` returns a message of channel *b* (which the collection's receive also got:
one message delivered twice, on two channels) and a's message is gone with its handle.
Exit 1 if any value is lost, wrong, or an error comes out; 0 with MPSC_PURE=1 (the pure code
has no shared buffer).
"""

import gc
import sys

import mpsc
import mpsc.process
from mpsc.process import _implementation

N = 200
print("implementation:", _implementation.in_use())
txa, rxa = mpsc.process.channel()
txb, rxb = mpsc.process.channel()
for i in range(N * 40):
    txb.send(("small", i))
for i in range(N):
    txa.send(("large", i, bytes([i % 251]) * 70_000))

got_b = []


armed = [False]


def hook(phase, info):
    if phase == "start" and armed[0]:
        try:
            got_b.append(rxb.try_recv())
        except mpsc.Empty:
            pass


bad = []
ok = 0
gc.callbacks.append(hook)
gc.set_threshold(10, 1000, 1000)
try:
    for i in range(N):
        # A collection starts at the 11th tracked allocation after gc.collect(): varying how
        # many come before the receive, it comes at each of the receive's own allocations in turn.
        keep = None
        gc.collect()
        keep = [[] for _ in range(i % 12)]
        armed[0] = True
        try:
            v = rxa.try_recv()
        except Exception as exc:  # noqa: BLE001
            bad.append((i, repr(exc)[:120]))
            continue
        finally:
            armed[0] = False
        if v[0] != "large" or v[1] != i or v[2] != bytes([i % 251]) * 70_000:
            bad.append((i, repr(v)[:80]))
        else:
            ok += 1
finally:
    gc.set_threshold(700, 10, 10)
    armed[0] = False
    gc.callbacks.remove(hook)

print(f"part 1: large values: {ok} of {N} intact, {len(bad)} lost or wrong; small ones taken by GC: {len(got_b)}")
for b in bad[:5]:
    print("  ", b)

# Part 2: the collection only lets the GIL go; another thread receives meanwhile.
import threading  # noqa: E402
import time  # noqa: E402

for i in range(N):
    txa.send(("large", i, bytes([i % 251]) * 70_000))
stop = []
other_count = [0]


def other():
    i = 0
    while not stop:
        txb.send(i)
        i += 1
        try:
            rxb.try_recv()
            other_count[0] += 1
        except mpsc.Empty:
            pass


def hook2(phase, info):
    if phase == "start" and armed[0]:
        time.sleep(0.0005)


while True:  # drain what part 1 left in b
    try:
        rxb.try_recv()
    except mpsc.Empty:
        break
thread = threading.Thread(target=other, daemon=True)
thread.start()
bad2 = []
gc.callbacks.append(hook2)
gc.set_threshold(10, 1000, 1000)
try:
    for i in range(N):
        keep = None
        gc.collect()
        keep = [[] for _ in range(i % 12)]
        armed[0] = True
        try:
            v = rxa.try_recv()
        except Exception as exc:  # noqa: BLE001
            bad2.append((i, repr(exc)[:120]))
            continue
        finally:
            armed[0] = False
        if v[0] != "large" or v[1] != i or v[2] != bytes([i % 251]) * 70_000:
            bad2.append((i, repr(v)[:80]))
finally:
    gc.set_threshold(700, 10, 10)
    armed[0] = False
    gc.callbacks.remove(hook2)
    stop.append(1)
    thread.join(10)
print(f"part 2: large values: {N - len(bad2)} of {N} intact, {len(bad2)} lost or wrong; other thread received {other_count[0]}")
for b in bad2[:5]:
    print("  ", b)

# Part 3: as part 1, but the messages of a are small and carry a handle (fds, so also finished
# by the pure code from the copied buffer): a receive on a returns a message of channel b, which
# the collection's receive also got (one message delivered twice, on two channels), and a's
# message is gone (its handle's fds closed with it).
while True:
    try:
        rxb.try_recv()
    except mpsc.Empty:
        break
for i in range(N * 40):
    txb.send(("small", i))
for i in range(N):
    txa.send(("carrying", i, txb))
got_b.clear()
bad3 = []
gc.callbacks.append(hook)
gc.set_threshold(10, 1000, 1000)
try:
    for i in range(N):
        keep = None
        gc.collect()
        keep = [[] for _ in range(i % 12)]
        armed[0] = True
        try:
            v = rxa.try_recv()
        except Exception as exc:  # noqa: BLE001
            bad3.append((i, repr(exc)[:120]))
            continue
        finally:
            armed[0] = False
        if v[0] != "carrying" or v[1] != i:
            bad3.append((i, repr(v)[:80], "also received by the collection's receive:", v in got_b))
        else:
            v[2].close()
finally:
    gc.set_threshold(700, 10, 10)
    armed[0] = False
    gc.callbacks.remove(hook)
print(f"part 3: handle-carrying values: {N - len(bad3)} of {N} intact, {len(bad3)} lost or wrong")
for b in bad3[:5]:
    print("  ", b)
sys.exit(1 if bad or bad2 or bad3 else 0)
