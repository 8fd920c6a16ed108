"""Probe: "a value send returned for is in the kernel, where neither a feeder thread nor the
sender's death can lose it". A producer child sends values (small, and every 3rd one > 64 KiB)
and, after each send returns, acks its index on a second channel; the parent SIGKILLs it at a
random moment and then checks that every acked value was received (exactly once, in order)."""

from __future__ import annotations

import multiprocessing
import random
import signal
import sys
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def produce(tx: Any, ack: Any) -> None:
    signal.alarm(60)
    i = 0
    try:
        while True:
            v = (i, b"z" * 70_000) if i % 3 == 0 else (i, None)
            tx.send_timeout(v, 20)
            ack.send_timeout(i, 20)
            i += 1
    except mpsc.SendError:
        pass


def main() -> int:
    signal.alarm(170)
    rng = random.Random(5)
    problems = []
    rounds = 0
    for r in range(15):
        for cap in (None, 0, 1, 8):
            tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
            ack_tx, ack_rx = mpp.channel()
            p = CTX.Process(target=produce, args=(tx, ack_tx))
            p.start()
            tx.close()
            ack_tx.close()
            got: list[int] = []
            kill_at = time.monotonic() + rng.uniform(0.01, 0.08)
            killed = False
            try:
                while True:
                    if not killed and time.monotonic() >= kill_at:
                        p.kill()
                        killed = True
                    try:
                        i, _ = rx.recv_timeout(0.01)
                        got.append(i)
                    except mpsc.Timeout:
                        pass
            except mpsc.RecvError:
                pass
            acked = []
            try:
                while True:
                    acked.append(ack_rx.recv_timeout(5))
            except mpsc.RecvError:
                pass
            p.join(10)
            rounds += 1
            if got != list(range(len(got))):
                problems.append(f"cap={cap}: received out of order / duplicated")
            lost = [i for i in acked if i >= len(got)]
            if lost:
                problems.append(
                    f"cap={cap}: sends {lost[:5]} returned (acked) but never arrived (received {len(got)})"
                )
            rx.close()
            ack_rx.close()
    print(f"{rounds} rounds")
    for pr in problems:
        print("PROBLEM:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
