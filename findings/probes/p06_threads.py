"""Probe (run on the free-threaded build too): threads of one process sharing one handle.
 1. 4 threads send on one Sender, 4 threads receive on one Receiver of the same channel, per cap;
    exactly once, per-thread FIFO per receiving thread.
 2. threads cloning and closing clones of a shared handle while others send/recv; at the end
    the last close disconnects.
 3. a child process consumer, 4 sending threads in the parent.

Usage: python p06_threads.py [count_per_thread]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def consume(rx: Any, report: Any) -> None:
    signal.alarm(120)
    got = []
    with rx:
        try:
            while True:
                got.append(rx.recv_timeout(30))
        except mpsc.RecvError:
            pass
    report.send(got)
    report.close()


def check(streams: list[list[Any]], senders: int, per: int, label: str) -> list[str]:
    problems = []
    total: Counter[Any] = Counter()
    for s in streams:
        total.update(s)
        last: dict[int, int] = {}
        for tag, i in s:
            if i <= last.get(tag, -1):
                problems.append(f"{label}: FIFO broken ({tag},{i}) after {last[tag]}")
                break
            last[tag] = i
    want = Counter((t, i) for t in range(senders) for i in range(per))
    if total != want:
        problems.append(
            f"{label}: lost {sum((want - total).values())}, duplicated {sum((total - want).values())}"
        )
    return problems


def scene1(cap: int | None, per: int) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    streams: list[list[Any]] = [[] for _ in range(4)]
    errors: list[BaseException] = []

    def send(tag: int) -> None:
        try:
            for i in range(per):
                tx.send_timeout((tag, i), 20)
        except BaseException as e:
            errors.append(e)

    def recv(k: int) -> None:
        try:
            while True:
                streams[k].append(rx.recv_timeout(20))
        except mpsc.RecvError:
            pass
        except BaseException as e:
            errors.append(e)

    ss = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    rs = [threading.Thread(target=recv, args=(k,)) for k in range(4)]
    t0 = time.monotonic()
    for t in ss + rs:
        t.start()
    for t in ss:
        t.join(60)
    tx.close()
    for t in rs:
        t.join(60)
    rx.close()
    problems = check(streams, 4, per, f"scene1 cap={cap}")
    if errors:
        problems.append(f"scene1 cap={cap}: errors {errors[:3]}")
    if any(t.is_alive() for t in ss + rs):
        problems.append(f"scene1 cap={cap}: threads hung")
    print(f"scene1 cap={cap}: {time.monotonic() - t0:.1f}s {len(problems)} problems", flush=True)
    return problems


def scene2(cap: int | None, per: int) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    streams: list[list[Any]] = [[] for _ in range(2)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def send(tag: int) -> None:
        try:
            for i in range(per):
                c = tx.clone()
                c.send_timeout((tag, i), 20)
                c.close()
        except BaseException as e:
            errors.append(e)

    def recv(k: int) -> None:
        try:
            while True:
                c = rx.clone()
                try:
                    streams[k].append(c.recv_timeout(20))
                finally:
                    c.close()
        except mpsc.RecvError:
            pass
        except BaseException as e:
            errors.append(e)

    def churn() -> None:
        while not stop.is_set():
            a = tx.clone()
            b = rx.clone()
            del a, b  # collected: released by finalizers
            gc.collect() if os.getpid() % 1 == 0 and False else None

    ss = [threading.Thread(target=send, args=(t,)) for t in range(2)]
    rs = [threading.Thread(target=recv, args=(k,)) for k in range(2)]
    ch = threading.Thread(target=churn)
    t0 = time.monotonic()
    for t in ss + rs + [ch]:
        t.start()
    for t in ss:
        t.join(60)
    stop.set()
    ch.join(10)
    tx.close()
    for t in rs:
        t.join(60)
    rx.close()
    problems = check(streams, 2, per, f"scene2 cap={cap}")
    if errors:
        problems.append(f"scene2 cap={cap}: errors {errors[:3]}")
    if any(t.is_alive() for t in ss + rs):
        problems.append(f"scene2 cap={cap}: threads hung (no disconnection after the last close?)")
    print(f"scene2 cap={cap}: {time.monotonic() - t0:.1f}s {len(problems)} problems", flush=True)
    return problems


def scene3(cap: int | None, per: int) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    rep_tx, rep_rx = mpp.channel()
    p = CTX.Process(target=consume, args=(rx, rep_tx))
    p.start()
    rx.close()
    rep_tx.close()
    errors: list[BaseException] = []

    def send(tag: int) -> None:
        try:
            for i in range(per):
                tx.send_timeout((tag, i), 20)
        except BaseException as e:
            errors.append(e)

    ss = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    t0 = time.monotonic()
    for t in ss:
        t.start()
    for t in ss:
        t.join(60)
    tx.close()
    got = rep_rx.recv_timeout(60)
    rep_rx.close()
    p.join(30)
    problems = check([got], 4, per, f"scene3 cap={cap}")
    if errors:
        problems.append(f"scene3 cap={cap}: errors {errors[:3]}")
    print(f"scene3 cap={cap}: {time.monotonic() - t0:.1f}s {len(problems)} problems", flush=True)
    return problems


def main() -> int:
    signal.alarm(900)
    per = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    print(f"python {sys.version.split()[0]} GIL={'on' if gil else 'off'}")
    problems = []
    for cap in (None, 64, 1, 0):
        n = per // 10 if cap == 0 else per
        problems += scene1(cap, n)
        problems += scene2(cap, n // 5)
        problems += scene3(cap, n)
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
