"""Probe: bad input and misuse. Prints each check with OK / ODD / BAD."""

from __future__ import annotations

import copy
import gc
import os
import pickle
import signal
import sys
import threading
import time
from typing import Any

import mpsc
import mpsc.process as mpp

results: list[tuple[str, str, str]] = []


def note(status: str, what: str, detail: str = "") -> None:
    results.append((status, what, detail))
    print(f"{status:4} {what}: {detail}", flush=True)


def intact(tx: Any, rx: Any, cap: int | None) -> str:
    """'' if the channel works as new: one value round trip, capacity exact."""
    drained = []
    while True:
        try:
            drained.append(rx.try_recv())
        except mpsc.Empty:
            break
    if drained:
        return f"left in channel: {drained!r}"
    if cap == 0:
        got: list[Any] = []
        t = threading.Thread(target=lambda: got.append(rx.recv_timeout(5)))
        t.start()
        tx.send_timeout("probe", 5)
        t.join(5)
        return "" if got == ["probe"] else f"rendezvous got {got}"
    if cap:
        if len(rx) != 0:
            return f"len {len(rx)}"
        for i in range(cap):
            tx.try_send(i)
        try:
            tx.try_send("over")
            return "capacity exceeded"
        except mpsc.Full:
            pass
        got = [rx.try_recv() for _ in range(cap)]
        return "" if got == list(range(cap)) else f"got {got}"
    tx.send("probe")
    v = rx.recv_timeout(5)
    return "" if v == "probe" else f"got {v!r}"


class ReduceRaises:
    def __reduce__(self) -> Any:
        raise ValueError("no pickling for me")


class ReduceReturnsJunk:
    def __reduce__(self) -> Any:
        return 42


def fdn() -> int:
    return len(os.listdir("/proc/self/fd"))


def unpicklables() -> None:
    def local_fn() -> None:
        pass

    class Local:
        pass

    cases = {
        "lambda": lambda: 1,
        "lock": threading.Lock(),
        "reduce raises ValueError": ReduceRaises(),
        "reduce returns junk": ReduceReturnsJunk(),
        "local function": local_fn,
        "local class instance": Local(),
        "generator": (i for i in range(3)),
        "large list ending in a lambda": [b"x" * 100_000, lambda: 1],
        "handle then lambda": None,
    }
    for cap in (None, 0, 1, 3):
        for name, value in cases.items():
            tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
            extra = []
            if value is None:
                otx, orx = mpp.channel()
                extra = [otx, orx]
                value = [otx, lambda: 1]
            before = fdn()
            try:
                tx.send_timeout(value, 1)
                note("BAD", f"unpicklable {name} cap={cap}", "send returned")
            except (TypeError, pickle.PicklingError) as e:
                problem = intact(tx, rx, cap)
                leak = fdn() - before
                note(
                    "OK" if not problem and leak <= 0 else "BAD",
                    f"unpicklable {name} cap={cap}",
                    f"{type(e).__name__}; {problem or 'intact'}; fd delta {leak}",
                )
            except Exception as e:
                problem = intact(tx, rx, cap)
                note(
                    "ODD",
                    f"unpicklable {name} cap={cap}",
                    f"raised {type(e).__name__}: {e} (docs: TypeError or PicklingError); {problem or 'intact'}",
                )
            for h in (tx, rx, *extra):
                h.close()


def capacities() -> None:
    for bad in (-1, 2**70, 1.5, "3", True, False, None, float("nan"), mpp.MAX_CAPACITY + 1, 2**31):
        try:
            tx, rx = mpp.sync_channel(bad)  # type: ignore[arg-type]
            note("ODD", f"sync_channel({bad!r})", f"accepted: capacity {tx.capacity}")
            tx.close()
            rx.close()
        except (TypeError, ValueError) as e:
            note("OK", f"sync_channel({bad!r})", f"{type(e).__name__}: {e}")
        except Exception as e:
            note("BAD", f"sync_channel({bad!r})", f"{type(e).__name__}: {e}")
    t0 = time.monotonic()
    tx, rx = mpp.sync_channel(mpp.MAX_CAPACITY)
    note(
        "OK",
        "sync_channel(MAX_CAPACITY)",
        f"{mpp.MAX_CAPACITY} made in {time.monotonic() - t0:.3f}s, len {len(rx)}",
    )
    tx.close()
    rx.close()
    # many big bounded channels: the per-user pipe allowance
    made = []
    try:
        for i in range(200):
            made.append(mpp.sync_channel(mpp.MAX_CAPACITY))
        note("OK", "200 x sync_channel(MAX_CAPACITY)", "made")
    except Exception as e:
        note("ODD", "many sync_channel(MAX_CAPACITY)", f"#{len(made)}: {type(e).__name__}: {e}")
    for a, b in made:
        a.close()
        b.close()


def timeouts() -> None:
    tx, rx = mpp.sync_channel(1)
    for bad in (float("nan"), -1, float("-inf"), "1", None):
        for name, call in (
            ("send_timeout", lambda t: tx.send_timeout(1, t)),
            ("recv_timeout", lambda t: rx.recv_timeout(t)),
        ):
            try:
                call(bad)
                note("ODD", f"{name}({bad!r})", "returned")
            except (TypeError, ValueError) as e:
                note("OK", f"{name}({bad!r})", f"{type(e).__name__}: {e}")
            except Exception as e:
                note("BAD", f"{name}({bad!r})", f"{type(e).__name__}: {e}")
            p = intact(tx, rx, 1)
            if p:
                note("BAD", f"{name}({bad!r}) left channel", p)
    tx.close()
    rx.close()


def closed_use() -> None:
    tx, rx = mpp.sync_channel(2)
    c = tx.clone()
    c.close()
    ops = {
        "send": lambda: c.send(1),
        "try_send": lambda: c.try_send(1),
        "len": lambda: len(c),
        "capacity": lambda: c.capacity,
        "is_disconnected": lambda: c.is_disconnected(),
        "clone": lambda: c.clone(),
        "same_channel": lambda: c.same_channel(tx),
        "with": lambda: c.__enter__(),
        "pickle into a message": lambda: tx.send(c),
        "repr": lambda: repr(c),
    }
    for name, op in ops.items():
        try:
            r = op()
            note("OK" if name == "repr" else "ODD", f"closed handle {name}", f"returned {r!r}")
        except mpsc.ClosedHandleError:
            note("OK", f"closed handle {name}", "ClosedHandleError")
        except Exception as e:
            note("ODD", f"closed handle {name}", f"{type(e).__name__}: {e}")
    p = intact(tx, rx, 2)
    note("OK" if not p else "BAD", "channel after closed-handle misuse", p or "intact")
    c2 = rx.clone()
    c2.close()
    for name, op in {
        "recv": lambda: c2.recv(),
        "iter": lambda: next(iter(c2)),
        "try_iter": lambda: list(c2.try_iter()),
    }.items():
        try:
            op()
            note("ODD", f"closed receiver {name}", "returned")
        except mpsc.ClosedHandleError:
            note("OK", f"closed receiver {name}", "ClosedHandleError")
        except Exception as e:
            note("ODD", f"closed receiver {name}", f"{type(e).__name__}: {e}")
    tx.close()
    rx.close()


def elsewhere() -> None:
    tx, rx = mpp.channel()
    for name, op in {
        "pickle.dumps": lambda: pickle.dumps(tx),
        "copy.copy": lambda: copy.copy(tx),
        "copy.deepcopy of a list holding it": lambda: copy.deepcopy([tx]),
        "multiprocessing.Queue put+get": None,
    }.items():
        if op is None:
            import multiprocessing

            q = multiprocessing.get_context("spawn").Queue()
            q.put(tx)  # feeder thread pickles: error printed, item dropped?
            try:
                q.get(timeout=1)
                note("ODD", name, "arrived")
            except Exception as e:
                note(
                    "ODD",
                    name,
                    f"put() returned, then get: {type(e).__name__} (mp.Queue's feeder swallowed the TypeError)",
                )
            q.close()
            q.join_thread()
            continue
        try:
            op()
            note("BAD", name, "worked")
        except TypeError:
            note("OK", name, "TypeError")
        except Exception as e:
            note("ODD", name, f"{type(e).__name__}: {e}")
    # thread channel carrying a process handle
    ttx, trx = mpsc.channel()
    ttx.send(tx)
    got = trx.recv_timeout(1)
    note("OK" if got is tx else "ODD", "process handle through a thread channel", f"same object: {got is tx}")
    # select with process handles
    try:
        mpsc.select(rx, timeout=0.01)
        note("ODD", "mpsc.select(process rx)", "returned")
    except TypeError as e:
        note("OK", "mpsc.select(process rx)", f"TypeError: {e}")
    except Exception as e:
        note("ODD", "mpsc.select(process rx)", f"{type(e).__name__}: {e}")
    try:
        r = tx.same_channel(ttx)  # type: ignore[arg-type]
        note("ODD", "process same_channel(thread handle)", f"returned {r}")
    except TypeError:
        note("OK", "process same_channel(thread handle)", "TypeError")
    try:
        r = ttx.same_channel(tx)  # type: ignore[arg-type]
        note("ODD", "thread same_channel(process handle)", f"returned {r}")
    except TypeError:
        note("OK", "thread same_channel(process handle)", "TypeError")
    except Exception as e:
        note("ODD", "thread same_channel(process handle)", f"{type(e).__name__}: {e}")
    tx.close()
    rx.close()


def spawn_moves() -> None:
    """DESIGN §1's seed with process handles: spawn moves the handles into the thread."""
    tx, rx = mpp.channel()

    def worker(tx: Any) -> None:
        tx.send("hi")

    h = mpsc.spawn(worker, tx)
    h.join()
    try:
        got = [rx.recv_timeout(1)]
        try:
            got.append(rx.recv_timeout(1))
        except mpsc.RecvError:
            note("OK", "spawn moves a process Sender", "loop ended")
        except mpsc.Timeout:
            note(
                "BAD",
                "spawn moves a process Sender",
                f"after the thread ended, recv times out: tx still open in the caller: {tx!r}",
            )
    finally:
        tx.close()
        rx.close()


def too_many_handles() -> None:
    tx, rx = mpp.channel()
    hs = [mpp.channel() for _ in range(130)]
    before = fdn()
    try:
        tx.send([h[0] for h in hs])
        note("ODD", "260 handles in one message", "sent")
        v = rx.recv_timeout(2)
        for h in v:
            h.close()
    except ValueError as e:
        note("OK", "260 handles in one message", f"ValueError: {e}; fd delta {fdn() - before}")
    except Exception as e:
        note("ODD", "260 handles in one message", f"{type(e).__name__}: {e}; fd delta {fdn() - before}")
    for a, b in hs:
        a.close()
        b.close()
    tx.close()
    rx.close()


def receiver_into_own_channel() -> None:
    tx, rx = mpp.channel()
    tx.send(rx)
    rx.close()
    gc.collect()
    try:
        tx.send_timeout("x", 0.5)
        note(
            "ODD",
            "Receiver sent into its own channel, then closed",
            "send still succeeds (kernel holds the receiver in flight; like an Arc cycle in Rust)",
        )
    except mpsc.SendError:
        note("OK", "Receiver sent into its own channel, then closed", "SendError")
    tx.close()


def shared_receiver_threads() -> None:
    tx, rx = mpp.sync_channel(8)
    got: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        mine = []
        while True:
            try:
                mine.append(rx.recv_timeout(10))
            except mpsc.RecvError:
                break
        with lock:
            got.extend(mine)

    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for i in range(20000):
        tx.send_timeout(i, 10)
    tx.close()
    for t in ts:
        t.join(30)
    ok = sorted(got) == list(range(20000))
    note(
        "OK" if ok else "BAD", "one Receiver shared by 4 threads", f"{len(got)} received, exactly once: {ok}"
    )
    rx.close()


def fork_child_without_handle() -> None:
    tx, rx = mpp.channel()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.read(w, 0) if False else None
        time.sleep(2)
        os._exit(0)
    os.close(w)
    tx.close()
    try:
        rx.recv_timeout(0.3)
        note("ODD", "fork child not given a handle", "recv returned")
    except mpsc.Timeout:
        note(
            "OK",
            "fork child not given a handle",
            "holds the inherited Sender: no disconnection while it lives (documented)",
        )
    except mpsc.RecvError:
        note("ODD", "fork child not given a handle", "RecvError at once")
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(r)
    try:
        rx.recv_timeout(1)
    except mpsc.RecvError:
        pass
    rx.close()
    # release_inherited in a fork child
    tx, rx = mpp.channel()
    keep_tx, keep_rx = mpp.channel()
    pid = os.fork()
    if pid == 0:
        n = mpp.release_inherited(keep_tx)
        keep_tx.send(n)
        try:
            tx.send(1)
            keep_tx.send("tx usable after release?!")
        except mpsc.ClosedHandleError:
            keep_tx.send("closed")
        keep_tx.close()
        time.sleep(1)
        os._exit(0)
    tx.close()
    keep_tx.close()
    t0 = time.monotonic()
    try:
        rx.recv_timeout(0.5)
        note("BAD", "release_inherited", "recv returned a value")
    except mpsc.RecvError:
        note(
            "OK",
            "release_inherited",
            f"RecvError after {1000 * (time.monotonic() - t0):.1f} ms while the child lives",
        )
    except mpsc.Timeout:
        note("BAD", "release_inherited", "no disconnection while the child lives")
    msgs = []
    try:
        while True:
            msgs.append(keep_rx.recv_timeout(3))
    except mpsc.RecvError:
        pass
    note("OK", "release_inherited in child", f"child said {msgs}")
    os.waitpid(pid, 0)
    rx.close()
    keep_rx.close()


def main() -> int:
    signal.alarm(170)
    for f in (
        unpicklables,
        capacities,
        timeouts,
        closed_use,
        elsewhere,
        spawn_moves,
        too_many_handles,
        receiver_into_own_channel,
        shared_receiver_threads,
        fork_child_without_handle,
    ):
        try:
            f()
        except Exception as e:
            note("BAD", f.__name__, f"probe crashed: {type(e).__name__}: {e}")
    bad = [r for r in results if r[0] == "BAD"]
    print(f"\n{len(bad)} BAD, {sum(r[0] == 'ODD' for r in results)} ODD, {len(results)} checks")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
