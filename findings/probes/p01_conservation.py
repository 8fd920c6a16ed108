"""Probe: conservation across processes. P producer processes, C consumer processes holding
cloned Receivers (plus one consumer thread in the parent), every capacity; every message exactly
once and per-sender FIFO within each consumer's stream.

Usage: python p01_conservation.py [total_messages]
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")
WAIT = 20.0


def producer(tx: Any, tag: int, count: int, ready: Any) -> None:
    signal.alarm(120)
    ready.close()
    with tx:
        for i in range(count):
            tx.send_timeout((tag, i), WAIT)


def consumer(rx: Any, report: Any, cid: int) -> None:
    signal.alarm(120)
    got = []
    with rx:
        while True:
            try:
                got.append(rx.recv_timeout(WAIT))
            except mpsc.RecvError:
                break
    report.send_timeout((cid, got), WAIT)
    report.close()


def run(cap: int | None, producers: int, consumers: int, per: int) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    rep_tx, rep_rx = mpp.channel()
    ready_tx, ready_rx = mpp.channel()
    procs = []
    for c in range(consumers):
        p = CTX.Process(target=consumer, args=(rx, rep_tx, c))
        p.start()
        procs.append(p)
    for t in range(producers):
        p = CTX.Process(target=producer, args=(tx, t, per, ready_tx))
        p.start()
        procs.append(p)
    tx.close()
    rep_tx.close()
    ready_tx.close()
    mine: list[Any] = []

    def local() -> None:
        while True:
            try:
                mine.append(rx.recv_timeout(WAIT))
            except mpsc.RecvError:
                return

    th = threading.Thread(target=local)
    t0 = time.monotonic()
    th.start()
    th.join(120)
    rx.close()
    streams = {"parent": mine}
    for _ in range(consumers):
        cid, got = rep_rx.recv_timeout(60)
        streams[f"child{cid}"] = got
    for p in procs:
        p.join(30)
        if p.exitcode != 0:
            p.kill()
    elapsed = time.monotonic() - t0
    problems = []
    total: Counter[Any] = Counter()
    for name, got in streams.items():
        total.update(got)
        last: dict[int, int] = {}
        for tag, i in got:
            if i <= last.get(tag, -1):
                problems.append(f"cap={cap}: {name} got ({tag},{i}) after ({tag},{last[tag]}): FIFO broken")
                break
            last[tag] = i
    want = Counter((t, i) for t in range(producers) for i in range(per))
    lost = want - total
    dup = total - want
    if lost or dup:
        problems.append(
            f"cap={cap}: lost {len(lost)} (e.g. {list(lost)[:3]}), duplicated {len(dup)} (e.g. {list(dup)[:3]})"
        )
    bad_exit = [p.exitcode for p in procs if p.exitcode != 0]
    if bad_exit:
        problems.append(f"cap={cap}: children exit codes {bad_exit}")
    share = {k: len(v) for k, v in streams.items()}
    print(
        f"cap={cap}: {producers}x{per} msgs, shares {share}, {elapsed:.1f}s, {len(problems)} problems",
        flush=True,
    )
    return problems


def main() -> int:
    signal.alarm(1500)
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    problems = []
    for cap in (None, 64, 2, 1, 0):
        n = total if cap != 0 else total // 10
        problems += run(cap, 3, 2, n // 3)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
