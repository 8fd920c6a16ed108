"""Probe: a thread forks (os.fork, child sleeps 1 s) while another thread receives from a
rendezvous channel. If the fork copies the notice fd of an offer the receiver has just read, the
sender's send waits until that child exits, although the value was claimed at once."""

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
