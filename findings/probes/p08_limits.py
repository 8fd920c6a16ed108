"""Probe: resource limits. 100 MB payload to a child and back; channels until EMFILE; a large send
at EMFILE; a peer that never reads (unbounded / bounded / rendezvous: send_timeout times out,
try_send says Full)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import resource
import signal
import sys
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def bounce(rx: Any, tx: Any) -> None:
    signal.alarm(60)
    with rx, tx:
        v = rx.recv_timeout(30)
        tx.send_timeout(v, 30)


def fdn() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> int:
    signal.alarm(170)
    problems = []
    # 100 MB round trip
    a_tx, a_rx = mpp.channel()
    b_tx, b_rx = mpp.channel()
    p = CTX.Process(target=bounce, args=(a_rx, b_tx))
    p.start()
    a_rx.close()
    b_tx.close()
    big = os.urandom(1024) * (100 * 1024)
    t0 = time.monotonic()
    a_tx.send_timeout(big, 30)
    back = b_rx.recv_timeout(30)
    print(
        f"100 MB round trip: {time.monotonic() - t0:.2f}s equal={back == big}, maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"
    )
    if back != big:
        problems.append("100 MB payload came back different")
    del back, big
    p.join(30)
    a_tx.close()
    b_rx.close()
    gc.collect()
    # channels until EMFILE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    before = fdn()
    resource.setrlimit(resource.RLIMIT_NOFILE, (before + 100, hard))
    for maker in (lambda: mpp.channel(), lambda: mpp.sync_channel(3), lambda: mpp.sync_channel(0)):
        made = []
        err: BaseException | None = None
        try:
            while len(made) < 1000:
                made.append(maker())
        except BaseException as e:
            err = e
        n = len(made)
        for a, b in made:
            a.close()
            b.close()
        del made
        gc.collect()
        print(f"channels until EMFILE: {n} made, then {err!r}; fds back to {fdn()} (before {before})")
        if fdn() != before:
            problems.append(f"fds after EMFILE in a constructor: {before} -> {fdn()}")
        if not isinstance(err, OSError):
            problems.append(f"constructor at EMFILE raised {err!r}")
    # large send at EMFILE: OSError, nothing sent, capacity intact
    tx, rx = mpp.sync_channel(2)
    fillers = []
    try:
        while True:
            fillers.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    try:
        tx.send_timeout(b"x" * 100_000, 1)
        outcome = "returned"
    except BaseException as e:
        outcome = repr(e)
    for fd in fillers:
        os.close(fd)
    try:
        leftover = rx.try_recv()
    except mpsc.Empty:
        leftover = None
    print(f"large send at EMFILE: {outcome}; channel then holds {leftover!r:.30}; len {len(rx)}")
    tx.try_send(1)
    tx.try_send(2)
    try:
        tx.try_send(3)
        problems.append("capacity exceeded after a send failed at EMFILE")
    except mpsc.Full:
        pass
    tx.close()
    rx.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    # a peer that never reads
    for cap in (None, 0, 1):
        tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
        n = 0
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < 10:
                tx.try_send(b"y" * 1000)
                n += 1
        except mpsc.Full:
            pass
        t1 = time.monotonic()
        try:
            tx.send_timeout("more", 0.2)
            out = "returned"
        except mpsc.Timeout:
            out = "Timeout"
        print(
            f"never-read cap={cap}: try_send accepted {n} (x 1000 B) then Full in {t1 - t0:.2f}s; send_timeout: {out} after {time.monotonic() - t1:.2f}s"
        )
        if out != "Timeout":
            problems.append(f"never-read cap={cap}: send_timeout {out}")
        tx.close()
        rx.close()
    for pr in problems:
        print("PROBLEM:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
