"""A child forked (from another thread) while a bounded channel's handle is being adopted as a
new endpoint — after ``Ledger(mine[-1])`` mapped the ledger memfd and before the Endpoint holds
it — keeps that mapping and its fd (``/memfd:mpsc-ledger``) for its whole life.

Promise: DESIGN.md "A fork copies only what the child should hold. A forked child closes the fds
of handles that its parent's threads had in flight"; Adoption docstring "No fd ever has two
owners ... what an exception leaves half-made can be closed"; ``release_inherited`` closes every
process-channel handle.

What happens: ``Adoption.make`` builds ``ledger = Ledger(mine[-1])`` — ``mmap.mmap`` keeps its
own dup of the memfd — then ``Endpoint(...)``. The half-made record is closed in the child
(``Taking.close`` → ``abandon`` → ``Adoption.close``), but the adoption does not know the Ledger
(``self.endpoint`` is still None): it closes ``mine`` and the socket only. The Ledger object is
referenced only by the parent thread's frame, which never unwinds in the child: its mapping
(256 KiB of the channel's table) and the mmap's fd stay for the child's life. (The parent is
fine: the frame's unwinding frees it.) Forced with a trace function that forks from another
thread as ``Endpoint.__init__`` / ``_register`` start (check points). Holds no channel open (the
memfd is not the socket): a leak of one fd and a mapping per occurrence. Pre-existing
(4633a47 shows it too). Exit 1 if the child holds an mpsc memfd after ``release_inherited()``.
"""

import gc
import os
import signal
import sys
import threading
import time

import mpsc.process as mpp
from mpsc.process import _endpoint

TARGETS = {_endpoint.Endpoint.__init__.__code__, _endpoint._register.__code__}


def memfds():
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("/memfd:mpsc"):
                out.append(int(fd))
        except OSError:
            pass
    return out


req, done = threading.Event(), threading.Event()
report = []


def forker():
    while True:
        req.wait()
        req.clear()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                mpp.release_inherited()
                gc.collect()
                os.write(w, repr(memfds()).encode())
            finally:
                os._exit(0)
        os.close(w)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 5 and not os.waitpid(pid, os.WNOHANG)[0]:
            time.sleep(0.005)
        else:
            if time.monotonic() - t0 >= 5:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        report.append(os.read(r, 4096).decode())
        os.close(r)
        done.set()


threading.Thread(target=forker, daemon=True).start()
state = {"n": 0, "k": 0}


def trace(frame, event, arg):
    if event == "call" and frame.f_code in TARGETS:
        state["n"] += 1
        if state["n"] == state["k"]:
            done.clear()
            req.set()
            done.wait(10)
    return None


bad = 0
for k in (1, 2):  # Endpoint.__init__'s start, _register's start (of the adopted endpoint)
    tx, rx = mpp.channel()
    otx, orx = mpp.sync_channel(2)
    tx.send(("h", otx))
    otx.close()
    report.clear()
    state.update(n=0, k=k)
    sys.settrace(trace)
    try:
        got = rx.recv_timeout(5)
    finally:
        sys.settrace(None)
    got[1].close()
    for h in (tx, rx, orx):
        h.close()
    print(f"fork at check point {k}: child's mpsc memfds after release_inherited(): {report}")
    bad += bool(report and report[0] not in ("[]", ""))
sys.exit(1 if bad else 0)
