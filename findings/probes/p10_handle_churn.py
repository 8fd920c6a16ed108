"""Probe: handles travelling in bulk. The parent sends 2000 messages each holding a fresh clone of
X's Sender (and every 7th a Receiver clone of Y) to a child, which keeps some for a while and
closes them; then the parent closes its own: X's receiver must see RecvError at once, Y's
sender SendError; the child's fd count must come back to where it started."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def child(rx: Any, report: Any) -> None:
    signal.alarm(60)
    start = len(os.listdir("/proc/self/fd"))
    kept: list[Any] = []
    n = 0
    with rx:
        try:
            while True:
                i, hs = rx.recv_timeout(20)
                n += 1
                kept.extend(hs)
                if len(kept) > 50:
                    for h in kept[:40]:
                        h.close()
                    del kept[:40]
        except mpsc.RecvError:
            pass
    for h in kept:
        h.close()
    import gc

    gc.collect()
    report.send((n, start, len(os.listdir("/proc/self/fd"))))
    report.close()


def main() -> int:
    signal.alarm(120)
    problems = []
    for cap in (None, 0, 3):
        c_tx, c_rx = mpp.channel()
        rep_tx, rep_rx = mpp.channel()
        x_tx, x_rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
        y_tx, y_rx = mpp.sync_channel(2)
        p = CTX.Process(target=child, args=(c_rx, rep_tx))
        p.start()
        c_rx.close()
        rep_tx.close()
        t0 = time.monotonic()
        for i in range(2000):
            hs = [x_tx.clone()]
            if i % 7 == 0:
                hs.append(y_rx.clone())
            c_tx.send_timeout((i, hs), 20)
            for h in hs:
                h.close()
        c_tx.close()
        n, start, end = rep_rx.recv_timeout(30)
        p.join(20)
        x_tx.close()
        y_rx.close()
        t1 = time.monotonic()
        try:
            x_rx.recv_timeout(2)
            problems.append(f"cap={cap}: X got a value")
        except mpsc.RecvError:
            pass
        except mpsc.Timeout:
            problems.append(f"cap={cap}: X's receiver not disconnected after every Sender clone was closed")
        try:
            y_tx.send_timeout(1, 2)
            problems.append(f"cap={cap}: Y send succeeded after every Receiver clone was closed")
        except mpsc.SendError:
            pass
        except mpsc.Timeout:
            problems.append(f"cap={cap}: Y send timed out instead of SendError")
        print(
            f"cap={cap}: child got {n}/2000, child fds {start} -> {end}, disconnect check {1000 * (time.monotonic() - t1):.1f} ms, total {t1 - t0:.1f}s",
            flush=True,
        )
        if n != 2000 or end != start - 1:  # (its own Receiver of C is closed by then)
            problems.append(f"cap={cap}: child got {n}, fds {start} -> {end}")
        for h in (x_rx, y_tx, rep_rx):
            h.close()
    for pr in problems:
        print("PROBLEM:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
