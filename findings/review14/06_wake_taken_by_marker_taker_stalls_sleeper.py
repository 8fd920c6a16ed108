"""A WAKE meant for a sleeping receiver is consumed by *another* receiver that takes a marked
message (``peek_datagram`` drops WAKEs ahead of a marker's datagram and clears ``woken``), while
a plain record pushed under ``woken == 1`` (so with no WAKE of its own) stays in the ring. The
sleeper that had not yet reached ``poll`` when the WAKE was taken then sleeps with a message in
the ring until its wait slice ends (``_waiting.SLICE`` = 100 ms) -- a lost wake-up, bounded only
by the slice (the other receiver then stopped receiving: it made a few ``try_recv``s, or was killed).

Promise: DESIGN §4.3 "No lost wake-up and no deadlock: a blocked recv wakes when a value
arrives"; _ring.c ``peek_datagram``'s comment admits "which then sleeps on until that publish, or
its wait's slice ends".

What happens (made deterministic with SIGSTOP: the sleeper R is stopped inside its wait, which
a preemption between R's last look and its ``poll`` does naturally): R blocks in ``rx.recv()``;
the sender pushes p1 (a WAKE goes), sends m2 with a handle inside (a marked datagram) and p3 (no
WAKE: one is in flight); this process, another receiver, takes p1 and m2 with ``try_recv`` (the
WAKE is dropped as it takes m2); R is continued: it gets p3 only when its slice ends, ~60-90 ms
later instead of at once. Reproduces every run. Exit 1 if R waits > 30 ms for p3.
"""

import mmap
import os
import signal
import sys
import time

import mpsc
import mpsc.process as mpp

tx, rx = mpp.channel()
side_tx, side_rx = mpp.channel()
r, w = os.pipe()
pid = os.fork()
if pid == 0:  # R: the sleeping receiver
    os.close(r)
    tx.close()
    try:
        v = rx.recv_timeout(5)
        os.write(w, f"{time.monotonic()!r} {v[0]}".encode())
    finally:
        os._exit(0)
os.close(w)
m = mmap.mmap(rx._ep.ring_fd, 4096)
deadline = time.monotonic() + 5
while int.from_bytes(m[96:104], "little") == 0:  # Header.sleepers
    if time.monotonic() > deadline:
        sys.exit("R never slept")
    time.sleep(0.0005)
time.sleep(0.01)  # R is in its poll now
os.kill(pid, signal.SIGSTOP)
tx.send(("p1",))  # a WAKE goes (R counts as a sleeper)
tx.send(("m2", side_tx))  # a marked datagram
tx.send(("p3",))  # no WAKE: one was sent since R began to wait
a = rx.try_recv()
b = rx.try_recv()  # takes m2's datagram, dropping the WAKE ahead of it
assert (a[0], b[0]) == ("p1", "m2"), (a, b)
b[1].close()
cont = time.monotonic()
os.kill(pid, signal.SIGCONT)
at, what = os.read(r, 100).decode().split()
os.waitpid(pid, 0)
waited = float(at) - cont
print(f"R received {what} {waited * 1000:.1f} ms after it could run again")
sys.exit(1 if waited > 0.03 else 0)
