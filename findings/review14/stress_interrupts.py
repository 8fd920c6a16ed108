"""Interrupt stress of ring channels (review14 tool): a sender process and a receiver process,
each with a SIGALRM every 50-200 us whose handler raises Boom in the main thread while an mpsc
call runs (tests/helpers.Interrupter). Mixed small / 6 KB / 300 KB / handle-carrying values; the
receiver starts late (the ring fills: senders wait for room). Receive modes: recv,
recv_timeout, select, try_recv, async. Exit 1 if a value is lost, duplicated or reordered, or
something hangs.  usage: stress_interrupts.py [N] [mode ...]
"""

import asyncio
import ctypes
import multiprocessing as mp
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from helpers import Boom, Interrupter, check_point  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process as mpp  # noqa: E402
from mpsc.process import _implementation  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
MODES = sys.argv[2:] or ["recv", "recv_timeout", "select", "try_recv", "async"]
BIG = b"B" * 300_000
MID = b"m" * 6000


def value(i, side_tx, impl):
    if i % 37 == 5:
        # (a pure send of 300 KB takes longer than the interrupts' interval, on any channel)
        return (i, BIG if impl == "compiled" else BIG[:20000])
    if i % 53 == 7:
        return (i, side_tx)
    if i % 11 == 3:
        return (i, MID)
    return (i,)


def receiver(rx, tx, got, order, mode, impl):
    _implementation.use(impl == "compiled")
    tx.close()
    time.sleep(0.3)
    last = -1
    vals = []
    inter = Interrupter(random.uniform(50e-6, 200e-6))

    def note(v):
        nonlocal last
        got[v[0]] += 1
        if len(v) > 1 and isinstance(v[1], bytes) and len(v[1]) not in (300_000, 20000, 6000):
            order[0] += 1000
        if v[0] <= last:
            order[0] += 1
        last = v[0]
        if len(v) > 1 and hasattr(v[1], "close"):
            v[1].close()

    with inter:
        if mode == "async":

            async def one():
                return await rx.recv_async()

            loop = asyncio.new_event_loop()
            while True:
                try:
                    inter.armed = True
                    v = loop.run_until_complete(one())
                    inter.armed = False
                    vals.append(v)
                    check_point()
                except Boom:
                    continue
                except mpsc.RecvError:
                    inter.armed = False
                    break
            for v in vals:
                note(v)
            return
        while True:
            try:
                inter.armed = True
                if mode == "recv":
                    v = rx.recv()
                elif mode == "recv_timeout":
                    v = rx.recv_timeout(20)
                elif mode == "select":
                    v = mpsc.select(rx, timeout=20)[1]
                else:
                    try:
                        v = rx.try_recv()
                    except mpsc.Empty:
                        inter.armed = False
                        continue
                inter.armed = False
                vals.append(v)
                check_point()
            except Boom:
                continue
            except mpsc.RecvError:
                inter.armed = False
                break
    for v in vals:
        note(v)
    print(f"  receiver booms {inter.booms}", flush=True)


bad = False
for impl in ("compiled", "pure"):
    for mode in MODES:
        _implementation.use(impl == "compiled")
        got = mp.RawArray(ctypes.c_uint8, N)
        order = mp.RawArray(ctypes.c_int64, 1)
        tx, rx = mpp.channel()
        side_tx, side_rx = mpp.channel()
        pid = os.fork()
        if pid == 0:
            try:
                receiver(rx, tx, got, order, mode, impl)
            finally:
                os._exit(0)
        rx.close()
        side_rx.close()
        t0 = time.monotonic()
        with Interrupter(random.uniform(50e-6, 200e-6)) as inter:
            i = 0
            while i < N:
                if time.monotonic() - t0 > 90:
                    print("  SENDER STUCK at", i, flush=True)
                    inter.armed = False
                    break
                try:
                    inter.armed = True
                    tx.send(value(i, side_tx, impl))
                    inter.armed = False
                    i += 1
                    check_point()
                except Boom:
                    continue
            inter.armed = False
        tx.close()
        side_tx.close()
        hung = False
        while True:
            r, status = os.waitpid(pid, os.WNOHANG)
            if r:
                break
            if time.monotonic() - t0 > 90:
                hung = True
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        lost = sum(1 for k in range(N) if got[k] == 0)
        if lost:
            print("  lost:", [k for k in range(N) if got[k] == 0][:30], flush=True)
        dup = sum(1 for k in range(N) if got[k] > 1)
        anomaly = lost or dup or order[0] or hung
        bad |= bool(anomaly)
        print(
            f"{impl} {mode}: sender booms {inter.booms} lost {lost} dup {dup} reordered {order[0]} hung {hung} "
            f"{time.monotonic() - t0:.1f}s" + ("  <-- ANOMALY" if anomaly else ""),
            flush=True,
        )
sys.exit(1 if bad else 0)
