"""Probe: an exception injected at every check point of a process-channel call (the project's own
tests/checkpoints.py harness, both the trace-based Injector and the real-signal SignalInjector),
with every value counted and the fds of the process counted before and after each run.

Usage: python p03_checkpoints.py [scene-substring ...]
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from checkpoints import NOT_RETURNED, Injected, Injector, SignalInjector

import mpsc
import mpsc.process as mpp

LARGE = b"L" * 70_000


def fds() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass
    return out


def hint_count(rx: Any) -> int:
    import fcntl
    import termios

    buf = bytearray(4)
    fcntl.ioctl(rx._ep.credit_r, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


def make(cap: int | None) -> tuple[Any, Any]:
    return mpp.channel() if cap is None else mpp.sync_channel(cap)


def drain(rx: Any) -> list[Any]:
    out = []
    while True:
        try:
            out.append(rx.try_recv())
        except (mpsc.Empty, mpsc.RecvError):
            return out


class Problem(Exception):
    pass


def norm(v: Any) -> Any:
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "h":
        h = v[1]
        h.close()
        return "h"
    if isinstance(v, bytes) and len(v) > 100:
        return ("bytes", len(v), v[:1])
    return v


# Each scene: setup() -> (fn to inject into, check(result, exc) -> None raising Problem, teardown)


def scene_send(cap: int | None, value_kind: str) -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(cap)
        extra: list[Any] = []
        if value_kind == "large":
            value: Any = LARGE
        elif value_kind == "handle":
            otx, orx = mpp.channel()
            extra += [otx, orx]
            value = ("h", otx)
        else:
            value = "v"

        def fn() -> Any:
            tx.send_timeout(value, 2.0)
            return "sent"

        def check(result: Any, exc: BaseException | None) -> None:
            got = [norm(v) for v in drain(rx)]
            want = [norm(value)] if result is not NOT_RETURNED else []
            if value_kind == "handle":
                want = ["h"] if result is not NOT_RETURNED else []
            if got != want:
                raise Problem(f"returned={result is not NOT_RETURNED} exc={exc!r}: got {got} want {want}")
            if cap:
                if len(rx) != 0:
                    raise Problem(f"len(rx) = {len(rx)} after draining")
                for i in range(cap):
                    tx.try_send(i)
                try:
                    tx.try_send("over")
                    raise Problem("capacity exceeded after the interrupted send")
                except mpsc.Full:
                    pass
                drain(rx)

        def teardown() -> None:
            for h in (tx, rx, *extra):
                h.close()

        return fn, check, teardown

    return setup


def scene_try_send_full(cap: int) -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(cap)
        for i in range(cap):
            tx.send(i)

        def fn() -> Any:
            try:
                tx.send_timeout("x", 0.001)
            except mpsc.Timeout:
                return "timeout"
            return "sent?"

        def check(result: Any, exc: BaseException | None) -> None:
            if result == "sent?":
                raise Problem("send on a full channel returned")
            got = drain(rx)
            if got != list(range(cap)):
                raise Problem(f"channel held {got}")
            for i in range(cap):
                tx.try_send(i)
            try:
                tx.try_send("over")
                raise Problem("capacity exceeded after the interrupted send")
            except mpsc.Full:
                pass

        def teardown() -> None:
            tx.close()
            rx.close()

        return fn, check, teardown

    return setup


def scene_recv(cap: int | None, value_kind: str) -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(cap)
        extra: list[Any] = []
        if value_kind == "large":
            value: Any = LARGE
        elif value_kind == "handle":
            otx, orx = mpp.channel()
            extra += [otx, orx]
            value = ("h", otx)
        elif value_kind == "empty":
            value = None
        else:
            value = "v"
        if value is not None:
            tx.send(value)
        out: list[Any] = []

        def fn() -> Any:
            try:
                v = rx.recv_timeout(0.001)
            except mpsc.Timeout:
                return "timeout"
            out.append(v)
            return "got"

        def check(result: Any, exc: BaseException | None) -> None:
            got = [norm(v) for v in out] + [norm(v) for v in drain(rx)]
            want = [] if value is None else [norm(value)]
            if got != want:
                raise Problem(f"returned={result!r} exc={exc!r}: got {got} want {want}")
            if cap:
                if len(rx) != 0:
                    raise Problem(f"len = {len(rx)}")
                for i in range(cap):
                    tx.try_send(i)
                try:
                    tx.try_send("over")
                    raise Problem("capacity exceeded")
                except mpsc.Full:
                    pass
                drain(rx)

        def teardown() -> None:
            for h in (tx, rx, *extra):
                h.close()

        return fn, check, teardown

    return setup


def scene_rendezvous_send(try_: bool) -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(0)
        got: list[Any] = []
        errors: list[BaseException] = []
        waiting = threading.Event()

        def receiver() -> None:
            try:
                waiting.set()
                while True:
                    got.append(rx.recv_timeout(5))
            except mpsc.RecvError:
                pass
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=receiver, daemon=True)
        t.start()
        waiting.wait(5)
        if try_:  # wait for its hint (white-box: the hint pipe holds a byte)
            import fcntl
            import termios

            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                buf = bytearray(4)
                fcntl.ioctl(rx._ep.credit_r, termios.FIONREAD, buf)
                if int.from_bytes(buf, "little"):
                    break
                time.sleep(0.0005)

        def fn() -> Any:
            try:
                if try_:
                    tx.try_send("v")
                else:
                    tx.send_timeout("v", 2.0)
            except mpsc.Full:
                return "full"
            return "sent"

        def check(result: Any, exc: BaseException | None) -> None:
            tx.close()
            t.join(10)
            if t.is_alive():
                raise Problem("receiver thread did not end after the last sender closed")
            if errors:
                raise Problem(f"receiver thread: {errors!r}")
            want = ["v"] if result == "sent" else []
            if got != want:
                raise Problem(f"returned={result!r} exc={exc!r}: receiver got {got} want {want}")
            if hint_count(rx):
                raise Problem(
                    f"returned={result!r} exc={exc!r}: {hint_count(rx)} stale hint(s) left with no receiver waiting"
                )

        def teardown() -> None:
            tx.close()
            rx.close()

        return fn, check, teardown

    return setup


def scene_rendezvous_recv() -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(0)
        outcome: list[Any] = []
        out: list[Any] = []

        def sender() -> None:
            try:
                tx.send_timeout("v", 5)
                outcome.append("sent")
            except BaseException as e:
                outcome.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()

        def fn() -> Any:
            out.append(rx.recv_timeout(2))
            return "got"

        def check(result: Any, exc: BaseException | None) -> None:
            if not out:
                try:
                    out.append(rx.recv_timeout(5))
                except BaseException as e:
                    raise Problem(f"after an interrupted recv the value was not there: {e!r}") from None
            t.join(10)
            if outcome != ["sent"] or out != ["v"]:
                raise Problem(f"returned={result!r} exc={exc!r}: sender {outcome} receiver {out}")
            if hint_count(rx):
                raise Problem(
                    f"returned={result!r} exc={exc!r}: {hint_count(rx)} stale hint(s) left with no receiver waiting"
                )

        def teardown() -> None:
            tx.close()
            rx.close()

        return fn, check, teardown

    return setup


def scene_clone_close(side: str) -> Callable[[], tuple[Any, Any, Any]]:
    def setup() -> tuple[Any, Any, Any]:
        tx, rx = make(None)
        made: list[Any] = []
        h = tx if side == "tx" else rx

        def fn() -> Any:
            c = h.clone()
            made.append(c)
            c.close()
            return "ok"

        def check(result: Any, exc: BaseException | None) -> None:
            made.clear()
            h.close()
            gc.collect()
            time.sleep(0.002)
            if side == "tx":
                try:
                    v = rx.recv_timeout(0.5)
                    raise Problem(f"got {v!r}")
                except mpsc.RecvError:
                    pass
                except mpsc.Timeout:
                    raise Problem("every Sender closed, but the receiver is not disconnected") from None
            else:
                try:
                    tx.send("x")
                    raise Problem("every Receiver closed, but send succeeded")
                except mpsc.SendError:
                    pass

        def teardown() -> None:
            tx.close()
            rx.close()

        return fn, check, teardown

    return setup


SCENES: dict[str, Callable[[], tuple[Any, Any, Any]]] = {}
for cap in (None, 2):
    for kind in ("small", "large", "handle"):
        SCENES[f"send-{kind}-{cap}"] = scene_send(cap, kind)
    for kind in ("small", "large", "handle", "empty"):
        SCENES[f"recv-{kind}-{cap}"] = scene_recv(cap, kind)
SCENES["send-full-1"] = scene_try_send_full(1)
SCENES["rdv-send"] = scene_rendezvous_send(False)
SCENES["rdv-trysend"] = scene_rendezvous_send(True)
SCENES["rdv-recv"] = scene_rendezvous_recv()
SCENES["clone-close-tx"] = scene_clone_close("tx")
SCENES["clone-close-rx"] = scene_clone_close("rx")


def settle_fds(before: dict[int, str]) -> dict[int, str]:
    deadline = time.monotonic() + 1.0
    while True:
        gc.collect()
        now = fds()
        extra = {fd: p for fd, p in now.items() if fd not in before}
        if not extra or time.monotonic() > deadline:
            return extra
        time.sleep(0.01)


def run_scene(name: str, setup: Callable[[], tuple[Any, Any, Any]], mode: str) -> list[str]:
    problems: list[str] = []
    n = 0
    while True:
        n += 1
        gc.collect()
        before = fds()
        fn, check, teardown = setup()
        inj: Any = Injector(n) if mode == "trace" else SignalInjector(n, 10**9)
        result, exc = inj.call(fn)
        e = exc  # frames in a traceback would keep the call's objects (a clone) alive
        while e is not None:
            e.__traceback__ = None
            e = e.__context__
        try:
            if exc is not None and not isinstance(exc, (Injected, mpsc.ChannelError)):
                problems.append(f"{name}/{mode} n={n}{inj.where}: unexpected {exc!r}")
            check(result, exc)
        except Problem as p:
            problems.append(f"{name}/{mode} n={n}{inj.where}: {p}")
        except BaseException as e:
            problems.append(f"{name}/{mode} n={n}{inj.where}: check raised {e!r}")
        finally:
            teardown()
        where, fired = inj.where, inj.fired
        del fn, check, teardown, inj, result, exc  # (a traceback could keep a handle alive)
        leaked = settle_fds(before)
        if leaked:
            problems.append(f"{name}/{mode} n={n}{where}: fds left open: {sorted(set(leaked.values()))}")
        if not fired:
            return problems
        if n > 3000:
            problems.append(f"{name}: too many points")
            return problems


def main() -> int:
    signal.alarm(1200)
    wanted = sys.argv[1:]
    all_problems: list[str] = []
    for name, setup in SCENES.items():
        if wanted and not any(w in name for w in wanted):
            continue
        for mode in ("trace", "signal"):
            t0 = time.monotonic()
            probs = run_scene(name, setup, mode)
            print(f"{name}/{mode}: {len(probs)} problems ({time.monotonic() - t0:.1f}s)", flush=True)
            for p in probs[:5]:
                print("   ", p, flush=True)
            all_problems += probs
    print("TOTAL problems:", len(all_problems))
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
