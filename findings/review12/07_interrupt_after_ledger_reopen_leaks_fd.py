"""One interrupt landing right after ``os.open`` returns in ``_ledger.Ledger._mine`` (a bounded
channel's endpoint opening its own description of the ledger memfd, the first time it counts a
credit) leaks that fd for the life of the process: the result is stored by a separate
``self.mine.append(fd)`` after the call returns, and the check point in between is where a
signal handler's exception lands (the codebase's own rule: "record a C call's result with
``for x in map(f, ...): break``"). Every such interrupt leaks one more (a
``/memfd:mpsc-ledger (deleted)`` description, which also keeps the ledger's memory alive).
Pre-existing (not part of 71149bf); found while checking carried handles over a bounded carrier.

Promises: mpsc.process doc, Interrupts: "whatever exception lands in a call ..., the call either
did not happen (it propagates, the channel is as it was) or happened"; _endpoint.close_fds /
DESIGN: every fd is closed exactly once; "File descriptors: a bounded channel's side holds four
(...) and a fifth once it is used (its own description of the ledger)".

What happens: a receive on a fresh bounded(2) channel holding one message, a KeyboardInterrupt
at each of its check points (CPython's own, as tests/checkpoints.SignalInjector raises them);
after each, every handle is closed and collected and the process's fds are counted. At the check
point after that ``os.open`` the count stays one higher for good. Exit 1 if any fd is left.
"""

import gc
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import SignalInjector, quietly  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

print("implementation:", _implementation.in_use())


def open_fds():
    found = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return found


def scene(n):
    tx, rx = mpp.sync_channel(2)
    tx.send("v")
    out = []
    inj = SignalInjector(n, 10**9)
    _, exc = quietly(inj, lambda: out.append(rx.recv_timeout(5)))
    got = list(out)
    try:
        got.append(rx.try_recv())
    except mpsc.Empty:
        pass
    assert got == ["v"], (n, inj.where, got)
    fired, where = inj.fired, inj.where
    del out, exc, inj
    tx.close()
    rx.close()
    gc.collect()
    return fired, where


scene(0)
scene(0)
leaks = []
n = 0
while True:
    n += 1
    before = open_fds()
    fired, where = scene(n)
    if not fired:
        break
    after = open_fds()
    new = {fd: target for fd, target in after.items() if fd not in before}
    if new:
        leaks.append((n, where.strip(), new))
print("check points:", n - 1)
for n, where, new in leaks:
    print(f"  interrupt at point {n} ({where}): left open for good: {new}")
sys.exit(1 if leaks else 0)
