"""Random-SIGKILL stress of ring channels (a tool for review14, not a finding by itself).

Rounds of: P producers (small / 6 KB / 300 KB / handle-carrying messages) and C consumers
(recv, select, async, try_recv) on one unbounded mpsc.process channel; producers and consumers
SIGKILLed at random moments and replaced; then producers stop, consumers drain to RecvError.
Counts every message (shared memory): duplicates, losses beyond what killed consumers may have
taken, per-sender order per consumer, hangs. Exit 1 on any anomaly.
usage: stress_kill.py ROUNDS [SECONDS_PER_ROUND] [seed]
"""

import asyncio
import ctypes
import multiprocessing as mp
import os
import random
import signal
import sys
import time

import mpsc
import mpsc.process as mpp

MAXP = 64
MAXN = 40000
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 1.5
seed = int(sys.argv[3]) if len(sys.argv) > 3 else int(time.time())
random.seed(seed)
print("seed", seed, flush=True)


def producer(slot, tx, rx, side_tx, sent, stop):
    rx.close()
    big = b"B" * 300_000
    mid = b"m" * 6000
    seq = 0
    try:
        while not stop.value and seq < MAXN:
            if seq % 97 == 5:
                v = ("h", slot, seq, side_tx)
            elif seq % 211 == 7:
                v = ("b", slot, seq, big)
            elif seq % 41 == 3:
                v = ("m", slot, seq, mid)
            else:
                v = ("s", slot, seq)
            tx.send(v)
            seq += 1
            sent[slot] = seq
    except mpsc.SendError:
        pass
    os._exit(0)


def consumer(cslot, mode, tx, rx, got, bad, order):
    tx.close()
    last = {}

    def note(v):
        kind, slot, seq = v[0], v[1], v[2]
        got[slot * MAXN + seq] += 1
        if slot in last and seq <= last[slot]:
            order[0] += 1
        last[slot] = seq
        if kind == "h":
            v[3].close()
        elif kind == "b" and len(v[3]) != 300_000:
            bad[0] += 1

    try:
        if mode == 0:
            while True:
                try:
                    v = rx.recv_timeout(8)
                except mpsc.Timeout:
                    bad[1] += 1  # a receive that waited 8 s: something hangs
                    continue
                note(v)
        elif mode == 1:
            while True:
                try:
                    _, v = mpsc.select(rx, timeout=8)
                except mpsc.Timeout:
                    bad[1] += 1
                    continue
                note(v)
        elif mode == 2:

            async def main():
                async for v in rx:
                    note(v)

            asyncio.run(main())
        else:
            while True:
                try:
                    v = rx.try_recv()
                except mpsc.Empty:
                    time.sleep(0.0005)
                    continue
                note(v)
    except mpsc.RecvError:
        pass
    os._exit(0)


def fork(fn, *args):
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            fn(*args)
        finally:
            os._exit(7)
    return pid


total_anom = 0
for rnd in range(rounds):
    got = mp.RawArray(ctypes.c_uint8, MAXP * MAXN)
    sent = mp.RawArray(ctypes.c_int64, MAXP)
    bad = mp.RawArray(ctypes.c_int64, 4)
    order = mp.RawArray(ctypes.c_int64, 1)
    stop = mp.RawValue(ctypes.c_int, 0)
    tx, rx = mpp.channel()
    side_tx, side_rx = mpp.channel()
    prods, cons = {}, {}
    nextp, nextc = 0, 0
    killedp, killedc = set(), 0

    def addp():
        global nextp
        prods[nextp] = fork(producer, nextp, tx, rx, side_tx, sent, stop)
        nextp += 1

    def addc():
        global nextc
        cons[nextc] = fork(consumer, nextc, nextc % 4, tx, rx, got, bad, order)
        nextc += 1

    for _ in range(3):
        addp()
    for _ in range(3):
        addc()
    end = time.monotonic() + secs
    while time.monotonic() < end and nextp < MAXP - 1:
        time.sleep(random.uniform(0.005, 0.08))
        if random.random() < 0.5:
            slot = random.choice(list(prods))
            os.kill(prods[slot], signal.SIGKILL)
            os.waitpid(prods.pop(slot), 0)
            killedp.add(slot)
            addp()
        else:
            c = random.choice(list(cons))
            os.kill(cons[c], signal.SIGKILL)
            os.waitpid(cons.pop(c), 0)
            killedc += 1
            addc()
    stop.value = 1
    tx.close()
    rx.close()
    side_rx.close()
    deadline = time.monotonic() + 60
    hung = []
    for d in (prods, cons):
        for k, pid in list(d.items()):
            while True:
                r, _ = os.waitpid(pid, os.WNOHANG)
                if r:
                    break
                if time.monotonic() > deadline:
                    hung.append((k, pid))
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
    dup = lost = ghost = 0
    for slot in range(nextp):
        n = sent[slot]
        for seq in range(MAXN):
            c = got[slot * MAXN + seq]
            if c > 1:
                dup += 1
            elif c == 0 and seq < n:
                lost += 1
            elif c and seq > n:
                ghost += 1
            if seq > n + 1 and c == 0:
                break
    total = sum(sent[s] for s in range(nextp))
    anom = dup or ghost or order[0] or bad[0] or bad[1] or hung or lost > killedc
    total_anom += bool(anom)
    print(
        f"round {rnd}: sent {total} producers {nextp} (killed {len(killedp)}) consumers killed {killedc}: "
        f"dup {dup} lost {lost} ghost {ghost} reordered {order[0]} bigbad {bad[0]} 8s-waits {bad[1]} hung {hung}"
        + ("  <-- ANOMALY" if anom else ""),
        flush=True,
    )
sys.exit(1 if total_anom else 0)
