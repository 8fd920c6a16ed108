"""Probe: SIGKILL at random moments. Rounds of
 A. a producer killed mid-send of large (memfd) values: receiver sees a contiguous prefix,
    nothing torn, RecvError soon after;
 B. one of two consumer processes killed mid-recv of large values: no value acked twice, the
    survivor goes on, every value either acked or taken by the dead one (at most one in its hands);
 C. an idle process holding the last clone (Sender, or Receiver) killed: latency to RecvError /
    SendError for a blocked peer.
Checks fds of the parent before/after, zombies.

Usage: python p02_death.py [rounds]
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import signal
import sys
import threading
import time
from typing import Any

import mpsc
import mpsc.process as mpp

CTX = multiprocessing.get_context("forkserver")
LATENCIES: list[float] = []
SIZE = 300_000


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def payload(i: int) -> tuple[int, bytes]:
    return (i, bytes([i % 256]) * SIZE)


def produce_forever(tx: Any, ready: Any) -> None:
    signal.alarm(60)
    ready.send(os.getpid())
    ready.close()
    i = 0
    try:
        while True:
            tx.send_timeout(payload(i), 20)
            i += 1
    except mpsc.SendError:
        pass


def consume_acking(rx: Any, acks: Any, cid: int) -> None:
    signal.alarm(60)
    acks.send((cid, "ready"))
    try:
        while True:
            i, body = rx.recv_timeout(20)
            ok = len(body) == SIZE and body.count(bytes([i % 256])) == SIZE
            acks.send((cid, i if ok else ("torn", i)))
    except mpsc.RecvError:
        acks.send((cid, "end"))


def hold(h: Any, ready: Any) -> None:
    signal.alarm(60)
    ready.send(os.getpid())
    ready.close()
    time.sleep(50)


def zombies() -> list[str]:
    me = os.getpid()
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2 :].split()
        state, ppid = rest[0], int(rest[1])
        if state == "Z" and ppid == me:
            out.append(pid)
    return out


def round_a(cap: int | None, rng: random.Random) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    ready_tx, ready_rx = mpp.channel()
    p = CTX.Process(target=produce_forever, args=(tx, ready_tx))
    p.start()
    tx.close()
    ready_tx.close()
    ready_rx.recv_timeout(10)
    ready_rx.close()
    got: list[int] = []
    problems = []
    killed_at = [0.0]

    def killer() -> None:
        time.sleep(rng.uniform(0.0, 0.05))
        killed_at[0] = time.monotonic()
        os.kill(p.pid, signal.SIGKILL)

    k = threading.Thread(target=killer)
    k.start()
    try:
        while True:
            i, body = rx.recv_timeout(10)
            if len(body) != SIZE or body.count(bytes([i % 256])) != SIZE:
                problems.append(f"A cap={cap}: torn value {i}")
            got.append(i)
    except mpsc.RecvError:
        t_err = time.monotonic()
    except mpsc.Timeout:
        problems.append(f"A cap={cap}: no RecvError within 10 s of the kill")
        t_err = time.monotonic()
    k.join()
    p.join(10)
    rx.close()
    if got != list(range(len(got))):
        problems.append(f"A cap={cap}: received sequence not contiguous: {got[:5]}...{got[-5:]}")
    lat = t_err - killed_at[0]
    return problems + (
        [f"A cap={cap}: RecvError {lat * 1000:.1f} ms after the kill"]
        if lat > 0.05 and cap is not None
        else []
    )


def round_b(cap: int | None, rng: random.Random) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    ack_tx, ack_rx = mpp.channel()
    ps = [CTX.Process(target=consume_acking, args=(rx, ack_tx, c)) for c in range(2)]
    for p in ps:
        p.start()
    rx.close()
    ack_tx.close()
    for _ in ps:
        ack_rx.recv_timeout(10)
    problems = []
    acked: dict[int, int] = {}
    ends = 0
    victim = ps[0]
    kill_after = rng.randint(0, 40)
    sent = 0
    killed = False
    t_end = time.monotonic() + 10
    while sent < 120 and time.monotonic() < t_end:
        if sent == kill_after and not killed:
            os.kill(victim.pid, signal.SIGKILL)
            killed = True
        try:
            tx.send_timeout(payload(sent), 10)
        except mpsc.SendError:
            problems.append(f"B cap={cap}: SendError with a live consumer")
            break
        sent += 1
        while True:
            try:
                cid, what = ack_rx.try_recv()
            except mpsc.Empty:
                break
            if isinstance(what, int):
                if what in acked:
                    problems.append(f"B cap={cap}: value {what} acked by {acked[what]} and {cid}")
                acked[what] = cid
            elif what == "end":
                ends += 1
            else:
                problems.append(f"B cap={cap}: {what}")
    tx.close()
    try:
        while True:
            cid, what = ack_rx.recv_timeout(10)
            if isinstance(what, int):
                if what in acked:
                    problems.append(f"B cap={cap}: value {what} acked twice")
                acked[what] = cid
            elif what == "end":
                ends += 1
            else:
                problems.append(f"B cap={cap}: {what}")
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        problems.append(f"B cap={cap}: acks channel did not disconnect")
    for p in ps:
        p.join(10)
    ack_rx.close()
    missing = [i for i in range(sent) if i not in acked]
    # a killed consumer may take values with it: those in its hands (<=1 being unpickled), and,
    # unbounded, what it had read... only values it had *received* are lost: at most a few.
    dead_lost = [i for i in missing]
    if len(dead_lost) > 2:
        problems.append(
            f"B cap={cap}: {len(dead_lost)} values neither acked nor plausibly in the dead consumer's hands: {dead_lost[:10]}"
        )
    if ends != 1:
        problems.append(f"B cap={cap}: {ends} consumers ended normally (want 1)")
    return problems


def round_c(cap: int | None, side: str, rng: random.Random) -> list[str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    ready_tx, ready_rx = mpp.channel()
    held = tx if side == "tx" else rx
    p = CTX.Process(target=hold, args=(held, ready_tx))
    p.start()
    held.close()
    ready_tx.close()
    ready_rx.recv_timeout(10)
    ready_rx.close()
    problems = []
    outcome: list[Any] = []

    def blocked() -> None:
        try:
            if side == "tx":
                rx.recv_timeout(5)
            else:
                if cap:
                    for i in range(cap):
                        tx.send(i)
                if cap is None:
                    while True:  # fill the kernel buffer
                        tx.try_send(b"x" * 60000)
                tx.send_timeout("blocked", 5)
            outcome.append("returned")
        except mpsc.Full:
            try:
                tx.send_timeout("blocked", 5)
                outcome.append("returned")
            except BaseException as e:
                outcome.append((e, time.monotonic()))
        except BaseException as e:
            outcome.append((e, time.monotonic()))

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(rng.uniform(0.01, 0.05))
    t_kill = time.monotonic()
    os.kill(p.pid, signal.SIGKILL)
    t.join(10)
    p.join(10)
    want = mpsc.RecvError if side == "tx" else mpsc.SendError
    if not outcome or outcome[0] == "returned" or not isinstance(outcome[0][0], want):
        problems.append(f"C cap={cap} side={side}: blocked peer got {outcome}")
    else:
        lat = outcome[0][1] - t_kill
        LATENCIES.append(lat)
        if lat > 0.010:
            problems.append(f"C cap={cap} side={side}: disconnection seen {lat * 1000:.1f} ms after SIGKILL")
    tx.close()
    rx.close()
    return problems


def main() -> int:
    signal.alarm(1500)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    # warm up the forkserver before counting fds
    p = CTX.Process(target=time.sleep, args=(0,))
    p.start()
    p.join()
    gc.collect()
    before = fd_count()
    problems: list[str] = []
    for r in range(rounds):
        for cap in (None, 0, 1, 4):
            problems += round_a(cap, rng)
            problems += round_b(cap, rng)
            for side in ("tx", "rx"):
                problems += round_c(cap, side, rng)
        print(f"round {r}: {len(problems)} problems so far", flush=True)
    gc.collect()
    time.sleep(0.1)
    after = fd_count()
    if after != before:
        problems.append(f"parent fds {before} -> {after}")
    z = zombies()
    if z:
        problems.append(f"zombies: {z}")
    if LATENCIES:
        LATENCIES.sort()
        print(
            f"kill -> disconnection seen: {len(LATENCIES)} rounds, median {LATENCIES[len(LATENCIES) // 2] * 1000:.2f} ms, "
            f"max {LATENCIES[-1] * 1000:.2f} ms"
        )
    for p_ in problems:
        print("PROBLEM:", p_)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
