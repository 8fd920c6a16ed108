"""Probe: p05 with a slow peer (it pauses 0.3 ms every 5 messages), so that tasks wait on the loop and are cancelled there.
delays, asyncio.timeout with tiny timeouts, and wait_for on >= 3.12), to and from child processes;
every value counted.

Usage: python p05_async_cancel.py [count]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import signal
import sys
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")


def produce(tx: Any, count: int) -> None:
    signal.alarm(120)
    with tx:
        for i in range(count):
            tx.send_timeout(i, 30)
            if i % 5 == 0:
                time.sleep(0.0003)


def consume(rx: Any, report: Any) -> None:
    signal.alarm(120)
    got = []
    with rx:
        try:
            while True:
                got.append(rx.recv_timeout(30))
                if len(got) % 5 == 0:
                    time.sleep(0.0003)
        except mpsc.RecvError:
            pass
    report.send(got)
    report.close()


async def receive_all(rx: Any, how: str, rng: random.Random) -> tuple[list[Any], int]:
    got: list[Any] = []
    cancels = 0
    loop = asyncio.get_running_loop()
    done = False

    async def one() -> None:
        nonlocal done
        try:
            v = await rx.recv_async()
        except mpsc.RecvError:
            done = True
            return
        got.append(v)
        await asyncio.sleep(0)

    while not done:
        d = rng.choice([0.0, 0.0, rng.uniform(0, 0.0003), rng.uniform(0, 0.003)])
        if how == "cancel":
            t = asyncio.ensure_future(one())
            loop.call_later(d, t.cancel)
            await asyncio.wait([t])
            if t.cancelled():
                cancels += 1
            elif t.exception():
                raise t.exception()  # type: ignore[misc]
        elif how == "timeout":
            try:
                async with asyncio.timeout(d):
                    await one()
            except TimeoutError:
                cancels += 1
        else:
            try:
                await asyncio.wait_for(one(), d)
            except TimeoutError:
                cancels += 1
    return got, cancels


async def send_all(tx: Any, count: int, how: str, rng: random.Random) -> tuple[list[Any], int]:
    sent: list[Any] = []
    cancels = 0
    loop = asyncio.get_running_loop()
    i = 0

    async def one(v: int) -> None:
        await tx.send_async(v)
        sent.append(v)
        await asyncio.sleep(0)

    while i < count:
        d = rng.choice([0.0, 0.0, rng.uniform(0, 0.0003), rng.uniform(0, 0.003)])
        if how == "cancel":
            t = asyncio.ensure_future(one(i))
            loop.call_later(d, t.cancel)
            await asyncio.wait([t])
            if t.cancelled():
                cancels += 1
            elif t.exception():
                raise t.exception()  # type: ignore[misc]
        elif how == "timeout":
            try:
                async with asyncio.timeout(d):
                    await one(i)
            except TimeoutError:
                cancels += 1
        else:
            try:
                await asyncio.wait_for(one(i), d)
            except TimeoutError:
                cancels += 1
        if sent and sent[-1] == i:
            i += 1
    return sent, cancels


def main() -> int:
    signal.alarm(1200)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rng = random.Random(7)
    problems = []
    hows = ["cancel", "timeout"] + (["wait_for"] if sys.version_info >= (3, 12) else [])
    for cap in (None, 0, 1, 4):
        for how in hows:
            n = count // 5 if cap == 0 else count
            # receive side
            tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
            p = CTX.Process(target=produce, args=(tx, n))
            p.start()
            tx.close()
            t0 = time.monotonic()
            got, cancels = asyncio.run(receive_all(rx, how, rng))
            rx.close()
            p.join(30)
            ok = got == list(range(n))
            print(
                f"recv cap={cap} {how}: {len(got)}/{n} in order={ok}, {cancels} cancelled, {time.monotonic() - t0:.1f}s",
                flush=True,
            )
            if not ok:
                problems.append(
                    f"recv cap={cap} {how}: got {len(got)} values, first bad at {next((k for k, v in enumerate(got) if v != k), None)}"
                )
            # send side
            tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
            rep_tx, rep_rx = mpp.channel()
            p = CTX.Process(target=consume, args=(rx, rep_tx))
            p.start()
            rx.close()
            rep_tx.close()
            t0 = time.monotonic()
            sent, cancels = asyncio.run(send_all(tx, n, how, rng))
            tx.close()
            child_got = rep_rx.recv_timeout(60)
            rep_rx.close()
            p.join(30)
            ok = child_got == sent == list(range(n))
            print(
                f"send cap={cap} {how}: child got {len(child_got)}, sent {len(sent)}, ok={ok}, {cancels} cancelled, {time.monotonic() - t0:.1f}s",
                flush=True,
            )
            if not ok:
                from collections import Counter

                c = Counter(child_got)
                dups = [k for k, v in c.items() if v > 1]
                problems.append(
                    f"send cap={cap} {how}: child got {len(child_got)} (dups {dups[:5]}), sent {len(sent)}"
                )
    for pr in problems:
        print("PROBLEM:", pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
