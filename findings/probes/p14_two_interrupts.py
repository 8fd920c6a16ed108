"""Probe: two interrupts close together (tests/checkpoints.py SignalInjector(n, m): a first
KeyboardInterrupt at check point n, a second m points later), for every pair, on a send and a
receive of process channels; every value counted: delivered iff the call returned.

Usage: python p14_two_interrupts.py [send_scene recv_scene large_send_scene rdv_send_scene]
(rdv_send_scene is slow: where finding 08 leaves the Sender busy, its receiver thread waits out
its timeout.)"""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from checkpoints import NOT_RETURNED, SignalInjector

import mpsc
import mpsc.process as mpp


def drain(rx: Any) -> list[Any]:
    out = []
    while True:
        try:
            out.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError):
            return out


def send_scene(cap: int | None, n: int, m: int) -> tuple[int, str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    inj = SignalInjector(n, m)
    result, exc = inj.call(lambda: tx.send_timeout("v", 1))
    got = drain(rx)
    want = ["v"] if result is not NOT_RETURNED else []
    fired = len(inj.raised)
    problem = ""
    if got != want:
        problem = f"send cap={cap} n={n} m={m}{inj.where}: returned={result is not NOT_RETURNED}, exc={exc!r}, channel got {got}"
    elif tx._ep.busy or rx._ep.busy:
        problem = f"send cap={cap} n={n} m={m}{inj.where}: endpoint left busy (finding 08)"
    tx.close()
    rx.close()
    return fired, problem


def recv_scene(cap: int | None, n: int, m: int) -> tuple[int, str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    tx.send("v")
    out: list[Any] = []
    inj = SignalInjector(n, m)
    result, exc = inj.call(lambda: out.append(rx.recv_timeout(1)))
    rest = drain(rx)
    fired = len(inj.raised)
    problem = ""
    if out + rest != ["v"]:
        problem = f"recv cap={cap} n={n} m={m}{inj.where}: returned={result is not NOT_RETURNED}, exc={exc!r}, got {out} then {rest}"
    elif tx._ep.busy or rx._ep.busy:
        problem = f"recv cap={cap} n={n} m={m}{inj.where}: endpoint left busy (finding 08)"
    tx.close()
    rx.close()
    return fired, problem


def rdv_send_scene(cap: int | None, n: int, m: int) -> tuple[int, str]:
    import threading

    tx, rx = mpp.sync_channel(0)
    got: list[Any] = []

    def receiver() -> None:
        try:
            while True:
                got.append(rx.recv_timeout(1))
        except mpsc.RecvError:
            pass

    t = threading.Thread(target=receiver, daemon=True)
    t.start()
    inj = SignalInjector(n, m)
    payload = "v" if cap is None else b"L" * 70_000
    result, exc = inj.call(lambda: tx.send_timeout(payload, 2))
    fired = len(inj.raised)
    busy = tx._ep.busy
    tx.close()
    t.join(10)
    want = [payload] if result is not NOT_RETURNED else []
    problem = ""
    if got != want:
        problem = f"rdv_send large={cap is not None} n={n} m={m}{inj.where}: returned={result is not NOT_RETURNED}, exc={exc!r}, receiver got {len(got)}"
    elif busy:
        problem = f"rdv_send n={n} m={m}{inj.where}: endpoint left busy (finding 08)"
    rx.close()
    return fired, problem


def large_send_scene(cap: int | None, n: int, m: int) -> tuple[int, str]:
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    inj = SignalInjector(n, m)
    big = b"L" * 70_000
    result, exc = inj.call(lambda: tx.send_timeout(big, 1))
    got = drain(rx)
    want = [big] if result is not NOT_RETURNED else []
    fired = len(inj.raised)
    problem = ""
    if got != want:
        problem = f"large_send cap={cap} n={n} m={m}{inj.where}: returned={result is not NOT_RETURNED}, exc={exc!r}, channel got {len(got)}"
    elif tx._ep.busy or rx._ep.busy:
        problem = f"large_send cap={cap} n={n} m={m}{inj.where}: endpoint left busy (finding 08)"
    tx.close()
    rx.close()
    return fired, problem


def main() -> int:
    signal.alarm(600)
    problems: list[str] = []
    scenes = [globals()[a] for a in sys.argv[1:]] or [send_scene, recv_scene]
    for scene in scenes:
        for cap in (None, 2):
            pairs = 0
            n = 0
            while True:
                n += 1
                m = 0
                fired = 0
                while True:
                    m += 1
                    fired, problem = scene(cap, n, m)
                    if problem:
                        problems.append(problem)
                    if fired < 2:
                        break
                    pairs += 1
                if fired == 0:
                    break
            gc.collect()
            print(
                f"{scene.__name__} cap={cap}: {pairs} pairs, {sum(1 for p in problems if p.startswith(scene.__name__[:4]) and f'cap={cap} ' in p)} problems",
                flush=True,
            )
    lost = [p for p in problems if "finding 08" not in p]
    for p in lost:
        print("PROBLEM:", p)
    print(f"{len(problems) - len(lost)} more were finding 08 (endpoint left busy)")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
