"""Finding 11: a fork taken while another thread is inside a rendezvous receive (or send) makes
the sender's `send` wait until that forked child exits, although the receiver claimed the value
at once: up to the child's whole life (here 1 s; a long-lived worker: for ever).

A rendezvous sender returns when the offer's *notice* pipe hangs up, i.e. when every copy of its
write end is closed. That copy travels in the offer's datagram and is closed by the receiver
right after it claimed the token (`_wire.settle`). A fork in between (from any other thread of
the receiving process: `multiprocessing`'s default fork start method on Linux up to 3.13,
`os.fork`, `subprocess` without exec... ) gives the child its own copy, which it never closes:
the fd is only a number in the parent thread's `Taking` record (`MSG_CMSG_CLOEXEC` protects
exec, not fork; `_endpoint._after_fork_in_child` forgets operations in progress but cannot
close their fds). The same holds in the sending process between `Offer()` and `offer.sent()`.

Promise broken: `sync_channel(0)`: "send returns only once a receiver has the value" (it should
return then, not a child's lifetime later); README "no cross-process lock, so a killed process
leaves nothing held" (here a live, unrelated one holds the sender). The fork rules in the module
doc speak of handles a child inherits, not of a third process's send.

Method: a child process makes 3000 rendezvous sends, timing each; the parent receives in its
main thread while another thread forks every 3 ms a child that sleeps 1 s.
Exit status 1 when the problem shows (a send slower than 0.5 s).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def sender(tx: Any, n: int, report: Any) -> None:
    signal.alarm(60)
    worst = 0.0
    slow = 0
    with tx:
        for i in range(n):
            t0 = time.monotonic()
            tx.send_timeout(i, 10)
            took = time.monotonic() - t0
            worst = max(worst, took)
            slow += took > 0.5
    report.send((worst, slow))
    report.close()


def main() -> int:
    signal.alarm(90)
    tx, rx = mpp.sync_channel(0)
    rep_tx, rep_rx = mpp.channel()
    p = CTX.Process(target=sender, args=(tx, 3000, rep_tx))
    p.start()
    tx.close()
    rep_tx.close()
    stop = threading.Event()
    pids: list[int] = []

    def forker() -> None:
        while not stop.is_set():
            pid = os.fork()
            if pid == 0:
                time.sleep(1.0)
                os._exit(0)
            pids.append(pid)
            time.sleep(0.003)

    got = []
    f = threading.Thread(target=forker)
    f.start()
    t0 = time.monotonic()
    try:
        while True:
            got.append(rx.recv_timeout(10))
    except mpsc.RecvError:
        pass
    stop.set()
    f.join()
    worst, slow = rep_rx.recv_timeout(10)
    p.join(10)
    for pid in pids:
        os.waitpid(pid, 0)
    print(
        f"{len(got)} received in {time.monotonic() - t0:.1f}s with {len(pids)} forks; slowest send {worst * 1000:.1f} ms, {slow} sends slower than 0.5 s"
    )
    if worst > 0.5:
        print("PROBLEM: a rendezvous send waited for a forked child's exit although its value was received")
        return 1
    return 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    sys.exit(main())
