"""A sender killed right after its marked datagram went (``sendmsg`` returned) and before it
stored the marker's number (``h->seq = seq`` in ``_ring.h``'s ``send_marked_locked``) leaves
``h->seq`` unchanged: the next marked send *reuses the same number*. The receiver that pops
that next sender's MARKER finds the dead sender's orphan at the socket's head with the same
number, takes it as the marker's datagram and frees the marker; the live sender's own datagram
stays in the socket and is delivered later as an "orphan" -- after the plain records that same
sender pushed after it.

Promises: /work/shared/DESIGN.md §4.2 "Per-sender FIFO: messages from one sender arrive in the
order sent"; README "a process killed at any instant leaves no lock held and no torn message";
RING-PLAN.md "socket order = marker order, so per-sender FIFO holds across both ways" and "Kill
safety of markers (built): no recovery state at all".

What happens: child A (LD_PRELOAD shim: SIGKILL right after its first marked sendmsg) sends a
value carrying a handle; then this process (sender B) sends ("B", 1, <handle>) -- marked -- and
("B", 2) -- a plain record. The receiver gets A's value, then ("B", 2), then ("B", 1).
Reproduces every run (deterministic), compiled and pure implementations. Exit 1 if so.
(``Ring._die_after_send``, the tests' model of this kill, bumps ``seq`` *before* sending, so
tests/test_ring.py cannot see it.)
"""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _shim import ensure_preloaded  # noqa: E402

ensure_preloaded()

import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402


def run(compiled: bool) -> list:
    _implementation.use(compiled)
    tx, rx = mpp.channel()
    side_tx, side_rx = mpp.channel()
    pid = os.fork()
    if pid == 0:
        os.environ["MPSC_DIE_AFTER"] = "marked:1"
        try:
            tx.send(("A", side_tx))
        finally:
            os._exit(3)  # (not reached if the shim works)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    tx.send(("B", 1, side_tx))  # a handle inside: a marked datagram
    tx.send(("B", 2))  # a plain record
    tx.close()
    got = []
    while True:
        try:
            v = rx.recv_timeout(5)
        except mpp.RecvError if hasattr(mpp, "RecvError") else Exception:
            break
        got.append(v[:2])
        if len(v) > 2 and hasattr(v[-1], "close"):
            v[-1].close()
    return got


bad = False
for compiled in (True, False):
    got = run(compiled)
    b = [m for m in got if m[0] == "B"]
    print("compiled" if compiled else "pure", "received:", got)
    if b != [("B", 1), ("B", 2)]:
        print("  per-sender FIFO broken for sender B:", b)
        bad = True
sys.exit(1 if bad else 0)
