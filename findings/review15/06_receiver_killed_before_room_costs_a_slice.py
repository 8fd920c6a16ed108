"""A receiver SIGKILLed after claiming a ROOM (``room_due`` sets ``room_woken`` under the ring
lock) and before sending it (``send_room``, after the unlock) leaves a sender blocked on the full
ring asleep for a whole wait slice (0.1 s) after another receiver has emptied the ring.

Promises: /work/shared/DESIGN.md §4.3 "a blocked send wakes when room appears"; DESIGN.md §10
("*A full ring makes a small message wait, not detour.* ... sends one ROOM byte (per wait,
``room_woken``)"): unlike the WAKE ("A sender killed between claiming a WAKE and sending it ...
costs a waiting receiver one wait slice"), nothing states this cost for ROOM.

What happens: ``room_woken`` stays 1 with no ROOM in flight; the other receiver's takes see it
set and send none; the sender wakes when its poll's slice ends (then pushes). One slice per such
kill, never more (the next ``room_begin`` clears it): the ROOM analogue of the stated WAKE limit.
An LD_PRELOAD shim SIGKILLs receiver 1 right before its 1-byte ROOM send; ARMED=0 is the control
(2-3 ms).

Exit 1 when the blocked send waits more than 50 ms (armed run).
"""
import os, subprocess, sys, tempfile, time

SRC = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
ssize_t send(int fd, const void *buf, size_t n, int flags) {
    static ssize_t (*real)(int, const void *, size_t, int);
    if (!real) real = dlsym(RTLD_NEXT, "send");
    if (n == 1 && ((const unsigned char *)buf)[0] == 0x52 && getenv("DIE_BEFORE_ROOM")) raise(SIGKILL);
    return real(fd, buf, n, flags);
}
"""
if not os.environ.get("SHIM_LOADED"):
    d = tempfile.mkdtemp(prefix="mpsc-shim-")
    c, so = os.path.join(d, "s.c"), os.path.join(d, "s.so")
    open(c, "w").write(SRC)
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", c, "-o", so, "-ldl"], check=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, LD_PRELOAD=so, SHIM_LOADED="1"))

import mpsc, mpsc.process
ARMED = os.environ.get("ARMED", "1") == "1"
tx, rx = mpsc.process.channel()
n = 0
while True:
    try:
        tx.try_send(n); n += 1
    except mpsc.Full:
        break
go1_r, go1_w = os.pipe()
dead_r, dead_w = os.pipe()
r1 = os.fork()
if r1 == 0:
    os.close(dead_r)
    os.read(go1_r, 1)
    if ARMED:
        os.environ["DIE_BEFORE_ROOM"] = "1"
    for _ in range(n // 2 + 50):  # past half: the ROOM falls due
        rx.recv()
    os.environ.pop("DIE_BEFORE_ROOM", None)
    time.sleep(0.5)
    os._exit(0)
os.close(dead_w)
r2 = os.fork()
if r2 == 0:
    os.read(dead_r, 1)  # EOF once receiver 1 is gone (or done)
    t = time.monotonic()
    got = 0
    while True:
        try:
            rx.recv_timeout(1.0); got += 1
        except (mpsc.Timeout, mpsc.RecvError):
            break
    os._exit(0)
rx.close()
# the parent: a sender blocked on the full ring
os.write(go1_w, b"g")
t0 = time.monotonic()
tx.send("last")
took = time.monotonic() - t0
_, st1 = os.waitpid(r1, 0)
tx.close()
os.waitpid(r2, 0)
print(f"armed={ARMED}: receiver 1 {'killed' if os.WIFSIGNALED(st1) else 'exited'}; the blocked send took {took * 1000:.1f} ms")
bad = took > 0.05
print("DEFECT: the ROOM died with its receiver; the sender slept a slice" if bad else "ok")
sys.exit(1 if bad else 0)
