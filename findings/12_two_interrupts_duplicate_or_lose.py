"""Finding 12: two interrupts close together (the second landing while mpsc handles the first, as
a double Ctrl-C does) make a send that happened raise (a retry sends the value twice), and make
a receive that took a value lose it.

The project's own harness models exactly this case (tests/checkpoints.py SignalInjector(n, m):
a first KeyboardInterrupt at check point n, a second m points later) and the thread channels
are tested for every pair (tests/test_interrupts.py, every_two_points); the process channels
are not. Run for every pair on a small send and a small receive, unbounded and bounded(2):

* sends: 10 pairs where the value is in the channel but the call raised (the caller retries:
  duplicate). The second interrupt lands as `finish()` starts: `_handles.py:455`
  (`if call.happened(): return finish(None, _Sending.end, call, exc)`) and `:464`
  (`except BaseException as exc: return finish(...)` after `call.end()`): `finish`'s own start
  is "the one place left open ... callers catch what lands there and call again"
  (`_interrupts.finish`), and these callers do not.
* receives: 42 pairs where the value was taken from the channel and is lost: the second
  interrupt lands as `finish()` starts (`_handles.py:680`, `:690`), as the `call.failed`
  property starts (`_handles.py:673`, a Python function), or during the re-run of `_decode`
  (`_wire.py:243–250`: a first interrupt counts as the value's first unpickling failure, a
  second makes even a plain str "unreadable" — the documented limit is about values whose own
  Python code runs while unpickling).
* (the other pairs reported as "finding 08" leave the endpoint busy, see 08.)

Promise broken: DESIGN §4.1 and §4.7 ("whatever exception arrives ..., either the call did not
happen or its result reaches the caller"); module doc "Interrupts".
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
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


def main() -> int:
    signal.alarm(55)
    problems: list[str] = []
    for scene in (send_scene, recv_scene):
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
