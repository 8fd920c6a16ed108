"""Probe: a SIGALRM handler raising at random moments in the parent's send/try_send/send_timeout
(small and large values, handles inside), recv/try_recv/recv_timeout/next(iter), on every
capacity, while a child echoes every value back. Afterwards: what the child got == the values
whose send returned, in order, once; what the parent received == what the child echoed.

Usage: python p07_signals.py [count]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import sys
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


class Boom(Exception):
    pass


def echo(rx: Any, tx: Any, report: Any) -> None:
    signal.alarm(120)
    got = []
    with rx, tx:
        try:
            while True:
                v = rx.recv_timeout(30)
                if isinstance(v, tuple) and len(v) == 3 and v[0] == "h":
                    v[2].close()
                    v = ("h", v[1])
                elif isinstance(v, bytes):
                    v = ("big", v[:8].decode(), len(v))
                got.append(v)
                tx.send_timeout(v, 30)
        except mpsc.RecvError:
            pass
    report.send(got)
    report.close()


class Interrupter:
    def __init__(self, interval: float) -> None:
        self.armed = False
        self.booms = 0
        self.interval = interval

    def handler(self, *a: object) -> None:
        if self.armed:
            self.armed = False
            self.booms += 1
            raise Boom()

    def __enter__(self) -> Interrupter:
        self.old = signal.signal(signal.SIGALRM, self.handler)
        signal.setitimer(signal.ITIMER_REAL, self.interval, self.interval)
        return self

    def __exit__(self, *a: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.old)


def point() -> None:
    pass


def run(cap: int | None, count: int, rng: random.Random) -> list[str]:
    a_tx, a_rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    b_tx, b_rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    rep_tx, rep_rx = mpp.channel()
    extra_tx, extra_rx = mpp.channel()
    p = CTX.Process(target=echo, args=(a_rx, b_tx, rep_tx))
    p.start()
    a_rx.close()
    b_tx.close()
    rep_tx.close()
    sent: dict[int, Any] = {}
    ns = 0
    got: dict[int, Any] = {}
    nr = 0
    it = iter(b_rx)
    i = 0
    t0 = time.monotonic()
    problems: list[str] = []
    with Interrupter(rng.choice([0.0001, 0.0003, 0.001])) as intr:
        while i < count or nr < ns:
            if time.monotonic() - t0 > 60:
                problems.append(f"cap={cap}: stuck: sent {ns} received {nr}")
                break
            try:
                # a send, unless too many in flight (the child echoes: keep both directions moving)
                if i < count and ns - nr < 3 and rng.random() < 0.6:
                    kind = rng.random()
                    if kind < 0.15:
                        v: Any = f"{i:08d}".encode() + b"x" * 70_000
                        rec: Any = ("big", f"{i:08d}", len(v))
                    elif kind < 0.25:
                        v = ("h", i, extra_tx)
                        rec = ("h", i)
                    else:
                        v = rec = i
                    op = rng.random()
                    intr.armed = True
                    if op < 0.4:
                        a_tx.send_timeout(v, 5)
                    elif op < 0.7:
                        a_tx.send(v)
                    else:
                        try:
                            a_tx.try_send(v)
                        except mpsc.Full:
                            intr.armed = False
                            continue
                    intr.armed = False
                    sent[ns] = rec
                    ns += 1
                    i += 1
                    point()
                else:
                    op = rng.random()
                    intr.armed = True
                    if op < 0.4:
                        r = b_rx.recv_timeout(rng.choice([0.0, 0.001, 0.01]))
                    elif op < 0.7:
                        r = b_rx.try_recv()
                    else:
                        r = b_rx.recv() if ns > nr else b_rx.recv_timeout(0)  # (not next(it): finding 09)
                    intr.armed = False
                    got[nr] = r
                    nr += 1
                    point()
            except Boom:
                continue
            except (mpsc.Empty, mpsc.Timeout):
                intr.armed = False
                continue
            except mpsc.RecvError:
                intr.armed = False
                fd = b_rx._ep.sock.fileno()
                try:
                    target = os.readlink(f"/proc/self/fd/{fd}")
                except OSError as e:
                    target = repr(e)
                problems.append(
                    f"cap={cap}: b_rx.recv raised RecvError while the echo child (alive: {p.is_alive()}) "
                    f"holds the only Sender; sent {ns} received {nr}; b_rx fd {fd} -> {target}"
                )
                break
        intr.armed = False
    booms = intr.booms
    if a_tx._ep.busy or b_rx._ep.busy:  # white-box: no call is in progress now
        problems.append(
            f"cap={cap}: endpoints left busy by interrupted calls (a_tx {a_tx._ep.busy}, b_rx "
            f"{b_rx._ep.busy}): close() will not close their fds (finding 08)"
        )
        a_tx._ep.busy = b_rx._ep.busy = 0  # (white-box repair, to go on counting messages)
    a_tx.close()
    if any("RecvError" in x for x in problems):
        p.kill()
        p.join(10)
        for h in (b_rx, rep_rx, extra_tx, extra_rx):
            h.close()
        print(f"cap={cap}: {problems}", flush=True)
        return problems
    rest = []
    try:
        while True:
            rest.append(b_rx.recv_timeout(10))
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        problems.append(f"cap={cap}: b channel did not end")
    child_got = rep_rx.recv_timeout(30)
    p.join(30)
    for h in (b_rx, rep_rx, extra_tx, extra_rx):
        h.close()
    sent_l = [sent[k] for k in range(ns)]
    got_l = [got[k] for k in range(nr)] + rest
    if child_got != sent_l:
        missing = [x for x in sent_l if x not in child_got][:5]
        extra = [x for x in child_got if x not in sent_l][:5]
        problems.append(
            f"cap={cap}: child got {len(child_got)} vs sent {len(sent_l)}; missing {missing} extra {extra}"
        )
    if got_l != child_got:
        problems.append(
            f"cap={cap}: parent received {len(got_l)} vs echoed {len(child_got)}; rest {rest[:5]}"
        )
    print(
        f"cap={cap}: sent {ns}, received {nr}+{len(rest)}, {booms} interrupts, {time.monotonic() - t0:.1f}s, {len(problems)} problems",
        flush=True,
    )
    return problems


def main() -> int:
    signal.alarm(1200)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    p = CTX.Process(target=time.sleep, args=(0,))
    p.start()
    p.join()
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    problems = []
    for cap in (None, 0, 1, 4):
        problems += run(cap, count if cap != 0 else count // 5, rng)
    gc.collect()
    time.sleep(0.2)
    after = len(os.listdir("/proc/self/fd"))
    if after != before:
        problems.append(
            f"fds {before} -> {after}: {sorted(os.readlink('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd'))[-10:]}"
        )
    for pr in problems:
        print("PROBLEM:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
