"""The workloads: what is timed, how every message is accounted for, and which rows each one has.

Every thread workload sends the integers ``0 .. n-1`` (split between the producers), the
consumer receives exactly ``n`` messages and adds them up, and the run is checked afterwards:
the sum must be ``n*(n-1)/2`` and nothing may be left queued. A lost message leaves the
consumer waiting, which the run's timeout turns into a :class:`BenchmarkError`; a duplicated
or corrupted one fails the sum or the leftover check. Nothing is ever dropped silently.

Each run returns one number: messages (or round trips, or selects) per second for the timing
workloads, bytes per message or per channel for the memory ones.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

from peers import Ends, Peer, ProcessPeer


class BenchmarkError(RuntimeError):
    """A run lost, duplicated or corrupted messages, hung, or raised."""


@dataclass
class Row:
    """One implementation in one workload: ``run(n)`` measures once and returns the metric."""

    name: str
    # The metric, or the metric and secondary figures by name (the tables show their medians).
    run: Callable[[int], float | tuple[float, dict[str, float]]]
    note: str = ""


@dataclass
class Workload:
    key: str
    title: str
    group: str
    unit: str  # "msg/s", "round trips/s", "selects/s", "B/msg", "B/channel", "s"
    higher_is_better: bool
    reference: str
    n: int  # full run
    n_quick: int
    rows: list[Row] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    description: str = ""
    max_repeats: int | None = None  # deterministic measurements need fewer
    warm_up: bool = True
    # Wake-up-bound workloads swing between fast and slow modes from one run to the next (where
    # the scheduler puts the threads): they run `split` times as many runs of n/split messages.
    split: int = 1
    split_quick: int | None = None  # the split with --quick, where it differs (fewer, shorter runs)

    def _split(self, quick: bool) -> int:
        return self.split_quick if quick and self.split_quick is not None else self.split

    def size(self, quick: bool) -> int:
        return (self.n_quick if quick else self.n) // self._split(quick)

    def runs(self, repeats: int, quick: bool = False) -> int:
        return min(repeats, self.max_repeats or repeats) * self._split(quick)


# -- running threads with a watchdog -------------------------------------------------------------


def _timeout(n: int) -> float:
    # Generous: the slowest peer here moves ~50 k messages/s; a run this long is a hang.
    return 60.0 + n / 5_000


def _join_all(threads: list[threading.Thread], timeout: float, what: str) -> None:
    deadline = perf_counter() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - perf_counter()))
        if thread.is_alive():
            raise BenchmarkError(
                f"{what}: {thread.name} still running after {timeout:.0f} s — messages lost or a hang"
            )


def _guarded(errors: list[BaseException], fn: Callable[..., Any], *args: Any) -> Callable[[], None]:
    def target() -> None:
        try:
            fn(*args)
        except BaseException as exc:
            errors.append(exc)

    return target


def _check(what: str, n: int, total: int | None, leftover: int) -> None:
    expected = n * (n - 1) // 2
    if total is None:
        raise BenchmarkError(f"{what}: the consumer recorded no result")
    if total != expected:
        raise BenchmarkError(f"{what}: received values sum to {total}, expected {expected} (0..{n - 1})")
    if leftover:
        raise BenchmarkError(f"{what}: {leftover} messages still queued after receiving all {n}")


def _close(ends: Ends) -> None:
    result = ends.close()
    if asyncio.iscoroutine(result):
        asyncio.run(result)


# -- threads: P producers, one consumer ---------------------------------------------------------


def threads_run(make: Callable[[], Ends | None], producers: int, what: str) -> Callable[[int], float]:
    def run(n: int) -> float:
        ends = make()
        assert ends is not None
        box: dict[str, Any] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(producers + 2)

        def produce(put: Callable[[int], Any], lo: int, hi: int) -> None:
            start.wait()
            for i in range(lo, hi):
                put(i)

        def consume(get: Callable[[], int], count: int) -> None:
            start.wait()
            total = 0
            if ends.iterate is None:
                for _ in range(count):
                    total += get()
            else:
                for value in ends.iterate:
                    total += value
                    count -= 1
                    if not count:
                        break
            box["end"] = perf_counter()
            box["total"] = total

        assert ends.get is not None
        threads = [
            threading.Thread(
                target=_guarded(errors, produce, ends.puts[p], p * n // producers, (p + 1) * n // producers),
                name=f"producer-{p}",
                daemon=True,
            )
            for p in range(producers)
        ]
        threads.append(
            threading.Thread(target=_guarded(errors, consume, ends.get, n), name="consumer", daemon=True)
        )
        for thread in threads:
            thread.start()
        start.wait()
        t0 = perf_counter()
        _join_all(threads, _timeout(n), what)
        if errors:
            raise BenchmarkError(f"{what}: {errors[0]!r}") from errors[0]
        _check(what, n, box.get("total"), ends.leftover())
        _close(ends)
        return n / (box["end"] - t0)

    return run


def pingpong_run(make: Callable[[], tuple[Ends, Ends] | None], what: str) -> Callable[[int], float]:
    """Round trips: the pinger sends i and waits for it to come back from an echo thread."""

    def run(n: int) -> float:
        pair = make()
        assert pair is not None
        requests, replies = pair
        assert requests.get is not None
        assert replies.get is not None
        box: dict[str, Any] = {}
        errors: list[BaseException] = []
        start = threading.Barrier(3)

        def echo(get: Callable[[], int], put: Callable[[int], Any]) -> None:
            start.wait()
            for _ in range(n):
                put(get())

        def ping(put: Callable[[int], Any], get: Callable[[], int]) -> None:
            start.wait()
            total = 0
            for i in range(n):
                put(i)
                total += get()
            box["end"] = perf_counter()
            box["total"] = total

        threads = [
            threading.Thread(
                target=_guarded(errors, echo, requests.get, replies.puts[0]), name="echo", daemon=True
            ),
            threading.Thread(
                target=_guarded(errors, ping, requests.puts[0], replies.get), name="ping", daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        start.wait()
        t0 = perf_counter()
        _join_all(threads, _timeout(n), what)
        if errors:
            raise BenchmarkError(f"{what}: {errors[0]!r}") from errors[0]
        _check(what, n, box.get("total"), requests.leftover() + replies.leftover())
        _close(requests)
        _close(replies)
        return n / (box["end"] - t0)

    return run


# -- select ---------------------------------------------------------------------------------------


def _in_thread(body: Callable[[], tuple[float, int]], n: int, what: str) -> tuple[float, int]:
    """Run a single-threaded timed body in a watched thread; returns (seconds, total)."""
    box: dict[str, Any] = {}
    errors: list[BaseException] = []

    def target() -> None:
        box["result"] = body()

    thread = threading.Thread(target=_guarded(errors, target), name=what, daemon=True)
    thread.start()
    _join_all([thread], _timeout(n), what)
    if errors:
        raise BenchmarkError(f"{what}: {errors[0]!r}") from errors[0]
    return box["result"]  # type: ignore[no-any-return]


def select_ready_mpsc(kind: str) -> Callable[[int], float]:
    """4 channels, only the third one holding messages: n selects (or n plain recvs) drain it."""
    what = f"select over 4, one ready: mpsc {kind}"

    def run(n: int) -> float:
        import mpsc
        from mpsc import _select

        chans = [mpsc.channel() for _ in range(4)]
        tx = chans[2][0]
        for i in range(n):
            tx.send(i)
        r0, r1, r2, r3 = (rx for _, rx in chans)

        def body() -> tuple[float, int]:
            total = 0
            if kind == "recv":
                recv = r2.recv
                t0 = perf_counter()
                for _ in range(n):
                    total += recv()
            elif kind in ("select", "pure select"):
                select = mpsc.select
                saved = _select.PASS
                if kind == "pure select":
                    _select.PASS = None  # the switch to the pure-Python pass
                try:
                    t0 = perf_counter()
                    for _ in range(n):
                        total += select(r0, r1, r2, r3)[1]
                finally:
                    _select.PASS = saved
            else:
                sel = mpsc.Select(r0, r1, r2, r3).select
                t0 = perf_counter()
                for _ in range(n):
                    total += sel()[1]
            return perf_counter() - t0, total

        elapsed, total = _in_thread(body, n, what)
        _check(what, n, total, sum(len(rx) for _, rx in chans))
        return n / elapsed

    return run


def select_ready_pygolang(kind: str) -> Callable[[int], float]:
    what = f"select over 4, one ready: pygolang {kind}"

    def run(n: int) -> float:
        from golang import chan, select

        chans = [chan(n) for _ in range(4)]
        for i in range(n):
            chans[2].send(i)
        c0, c1, c2, c3 = chans

        def body() -> tuple[float, int]:
            total = 0
            if kind == "recv":
                recv = c2.recv
                t0 = perf_counter()
                for _ in range(n):
                    total += recv()
            else:
                t0 = perf_counter()
                for _ in range(n):
                    total += select(c0.recv, c1.recv, c2.recv, c3.recv)[1]
            return perf_counter() - t0, total

        elapsed, total = _in_thread(body, n, what)
        _check(what, n, total, sum(len(c) for c in chans))
        return n / elapsed

    return run


def _blocked_rounds(
    sends: list[Callable[[int], Any]],
    wait: Callable[[], int],
    reply: Callable[[int], Any],
    get_reply: Callable[[], int],
    n: int,
    what: str,
) -> float:
    """Round trips: the pinger sends i on ``sends[i % 8]``; the echo thread, blocked in ``wait``
    (a select over 8 channels, or a plain recv), wakes and replies."""
    box: dict[str, Any] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def echo() -> None:
        start.wait()
        for _ in range(n):
            reply(wait())

    def ping() -> None:
        start.wait()
        total = 0
        for i in range(n):
            sends[i & 7](i)
            total += get_reply()
        box["end"] = perf_counter()
        box["total"] = total

    threads = [
        threading.Thread(target=_guarded(errors, echo), name="echo", daemon=True),
        threading.Thread(target=_guarded(errors, ping), name="ping", daemon=True),
    ]
    for thread in threads:
        thread.start()
    start.wait()
    t0 = perf_counter()
    _join_all(threads, _timeout(n), what)
    if errors:
        raise BenchmarkError(f"{what}: {errors[0]!r}") from errors[0]
    _check(what, n, box.get("total"), 0)
    return n / (box["end"] - t0)


def select_blocked_mpsc(kind: str) -> Callable[[int], float]:
    what = f"blocked select over 8: mpsc {kind}"

    def run(n: int) -> float:
        import mpsc

        chans = [mpsc.channel() for _ in range(8)]
        reply_tx, reply_rx = mpsc.channel()
        if kind == "recv":
            sends = [chans[0][0].send] * 8
            wait = chans[0][1].recv
        else:
            sends = [tx.send for tx, _ in chans]
            r = [rx for _, rx in chans]
            select = mpsc.select

            def wait() -> Any:
                return select(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])[1]

        rate = _blocked_rounds(sends, wait, reply_tx.send, reply_rx.recv, n, what)
        left = sum(len(rx) for _, rx in chans) + len(reply_rx)
        if left:
            raise BenchmarkError(f"{what}: {left} messages still queued")
        return rate

    return run


def select_blocked_pygolang(kind: str) -> Callable[[int], float]:
    what = f"blocked select over 8: pygolang {kind}"

    def run(n: int) -> float:
        from golang import chan, select

        chans = [chan(1) for _ in range(8)]
        replies = chan(1)
        if kind == "recv":
            sends = [chans[0].send] * 8
            wait = chans[0].recv
        else:
            sends = [c.send for c in chans]
            recvs = [c.recv for c in chans]

            def wait() -> Any:
                return select(*recvs)[1]

        return _blocked_rounds(sends, wait, replies.send, replies.recv, n, what)

    return run


# -- asyncio --------------------------------------------------------------------------------------


def thread_to_async_run(peer: Peer, what: str) -> Callable[[int], float]:
    """A thread puts n messages; a task on the main thread's loop awaits them."""

    def run(n: int) -> float:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            ends = peer.thread_to_async(loop)
            assert ends is not None
            assert ends.aget is not None
            aget = ends.aget
            errors: list[BaseException] = []

            def produce(put: Callable[[int], Any]) -> None:
                for i in range(n):
                    put(i)

            async def consume() -> int:
                total = 0
                for _ in range(n):
                    total += await aget()
                return total

            thread = threading.Thread(target=_guarded(errors, produce, ends.puts[0]), daemon=True)
            t0 = perf_counter()
            thread.start()
            try:
                total = await asyncio.wait_for(consume(), _timeout(n))
            except TimeoutError:
                raise BenchmarkError(f"{what}: not all {n} messages arrived — lost or a hang") from None
            t1 = perf_counter()
            _join_all([thread], _timeout(n), what)
            if errors:
                raise BenchmarkError(f"{what}: {errors[0]!r}") from errors[0]
            _check(what, n, total, ends.leftover())
            result = ends.close()
            if asyncio.iscoroutine(result):
                await result
            return n / (t1 - t0)

        return asyncio.run(main())

    return run


def async_to_thread_run(peer: Peer, what: str) -> Callable[[int], float]:
    """A task puts n messages; a thread gets them and reports back to the loop."""

    def run(n: int) -> float:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            ends = peer.async_to_thread(loop)
            assert ends is not None
            assert ends.get is not None
            done: asyncio.Future[tuple[int, float]] = loop.create_future()

            def report(result: tuple[int, float] | BaseException) -> None:
                if done.done():
                    return
                if isinstance(result, BaseException):
                    done.set_exception(result)
                else:
                    done.set_result(result)

            def consume(get: Callable[[], int]) -> None:
                try:
                    total = 0
                    for _ in range(n):
                        total += get()
                    loop.call_soon_threadsafe(report, (total, perf_counter()))
                except BaseException as exc:
                    loop.call_soon_threadsafe(report, exc)

            thread = threading.Thread(target=consume, args=(ends.get,), daemon=True)
            t0 = perf_counter()
            thread.start()
            if ends.aput is not None:
                aput = ends.aput
                for i in range(n):
                    await aput(i)
            else:  # a put that never blocks, called from the task (queue.SimpleQueue)
                put = ends.puts[0]
                for i in range(n):
                    put(i)
            try:
                total, t1 = await asyncio.wait_for(done, _timeout(n))
            except TimeoutError:
                raise BenchmarkError(f"{what}: not all {n} messages arrived — lost or a hang") from None
            except BenchmarkError:
                raise
            except BaseException as exc:
                raise BenchmarkError(f"{what}: {exc!r}") from exc
            _check(what, n, total, ends.leftover())
            result = ends.close()
            if asyncio.iscoroutine(result):
                await result
            return n / (t1 - t0)

        return asyncio.run(main())

    return run


def async_to_async_run(peer: Peer, what: str) -> Callable[[int], float]:
    """A producer task and a consumer task on one loop."""

    def run(n: int) -> float:
        async def main() -> float:
            loop = asyncio.get_running_loop()
            ends = peer.async_to_async(loop)
            assert ends is not None
            assert ends.aput is not None
            assert ends.aget is not None
            aput, aget = ends.aput, ends.aget

            async def produce() -> None:
                for i in range(n):
                    await aput(i)

            async def consume() -> int:
                total = 0
                for _ in range(n):
                    total += await aget()
                return total

            t0 = perf_counter()
            try:
                _, total = await asyncio.wait_for(asyncio.gather(produce(), consume()), _timeout(n))
            except TimeoutError:
                raise BenchmarkError(f"{what}: not all {n} messages arrived — lost or a hang") from None
            t1 = perf_counter()
            _check(what, n, total, ends.leftover())
            result = ends.close()
            if asyncio.iscoroutine(result):
                await result
            return n / (t1 - t0)

        return asyncio.run(main())

    return run


# -- k producers, k consumers: does it scale with cores? ------------------------------------------


def mpmc_run(kind: str, k: int) -> Callable[[int], float]:
    """k producer threads and k consumer threads on one unbounded channel (mpsc: a Sender clone
    per producer and a Receiver clone per consumer, each consumer iterating until every sender
    is gone; queue.SimpleQueue: one sentinel per consumer). On a free-threaded build the rate
    may grow with k up to the number of cores; with the GIL it cannot."""

    def run(n: int) -> float:
        import queue

        import mpsc

        totals: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(2 * k + 1)
        share = [(p * n // k, (p + 1) * n // k) for p in range(k)]
        if kind == "mpsc":
            tx, rx = mpsc.channel()
            senders = [tx] + [tx.clone() for _ in range(k - 1)]
            receivers = [rx] + [rx.clone() for _ in range(k - 1)]

            def produce(p: int) -> None:
                start.wait()
                with senders[p] as sender:
                    send = sender.send
                    for i in range(*share[p]):
                        send(i)

            def consume(c: int) -> None:
                start.wait()
                total = 0
                with receivers[c] as receiver:
                    for value in receiver:
                        total += value
                totals.append(total)

        else:
            q: queue.SimpleQueue[int | None] = queue.SimpleQueue()
            done = threading.Barrier(k, action=lambda: [q.put(None) for _ in range(k)])

            def produce(p: int) -> None:
                start.wait()
                put = q.put
                for i in range(*share[p]):
                    put(i)
                done.wait()

            def consume(c: int) -> None:
                start.wait()
                total = 0
                get = q.get
                while (value := get()) is not None:
                    total += value
                totals.append(total)

        threads = [threading.Thread(target=_guarded(errors, produce, p), daemon=True) for p in range(k)]
        threads += [threading.Thread(target=_guarded(errors, consume, c), daemon=True) for c in range(k)]
        for thread in threads:
            thread.start()
        start.wait()
        t0 = perf_counter()
        _join_all(threads, _timeout(n), f"mpmc {kind} {k}x{k}")
        elapsed = perf_counter() - t0
        if errors:
            raise BenchmarkError(f"mpmc {kind} {k}x{k}: {errors[0]!r}") from errors[0]
        _check(f"mpmc {kind} {k}x{k}", n, sum(totals) if len(totals) == k else None, 0)
        return n / elapsed

    return run


# -- many waiters on one channel -----------------------------------------------------------------


def waiters_tasks_run() -> Callable[[int], float]:
    """n asyncio tasks parked in ``recv_async`` on one channel, cancelled in reverse order (each
    one leaves from the far end of the queue); waiters per second, from the first cancel to the
    last task done."""

    def run(n: int) -> float:
        import mpsc

        async def main() -> float:
            tx, rx = mpsc.channel()
            tasks = [asyncio.ensure_future(rx.recv_async()) for _ in range(n)]
            while len(rx._chan.recvq) < n:  # every task parked
                await asyncio.sleep(0)
            t0 = perf_counter()
            for task in reversed(tasks):
                task.cancel()
            done = await asyncio.gather(*tasks, return_exceptions=True)
            elapsed = perf_counter() - t0
            if not all(isinstance(d, asyncio.CancelledError) for d in done) or any(
                not entry.waiter.claims for entry in rx._chan.recvq
            ):
                raise BenchmarkError("waiters: a task was not cancelled, or stayed queued")
            tx.close()
            rx.close()
            return n / elapsed

        return asyncio.run(main())

    return run


def waiters_threads_run() -> Callable[[int], float]:
    """n threads parked in ``recv`` on one channel, served one value each in the order they
    parked; waiters per second, from the first send to the last thread done."""

    def run(n: int) -> float:
        import mpsc

        tx, rx = mpsc.channel()
        got: list[int] = []
        errors: list[BaseException] = []

        def wait() -> None:
            got.append(rx.recv_timeout(_timeout(n)))

        threads = [threading.Thread(target=_guarded(errors, wait), daemon=True) for _ in range(n)]
        for thread in threads:
            thread.start()
        deadline = perf_counter() + _timeout(n)
        while len(rx._chan.recvq) < n:
            if perf_counter() > deadline or errors:
                raise BenchmarkError(f"waiters: the threads did not all park {errors[:1]}")
            threading.Event().wait(0.001)
        t0 = perf_counter()
        for i in range(n):
            tx.send(i)
        _join_all(threads, _timeout(n), "waiters threads")
        elapsed = perf_counter() - t0
        if errors:
            raise BenchmarkError(f"waiters threads: {errors[0]!r}") from errors[0]
        _check("waiters threads", n, sum(got), len(rx))
        tx.close()
        rx.close()
        return n / elapsed

    return run


# -- memory ---------------------------------------------------------------------------------------


def memory_queued_run(peer: Peer) -> Callable[[int], float]:
    """Bytes the container allocates to hold n queued ints (the ints exist beforehand)."""

    def run(n: int) -> float:
        values = list(range(1_000, 1_000 + n))  # outside the small-int cache, allocated up front
        objs = peer.make()
        assert objs is not None
        put = peer.put_of(objs)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for value in values:
                put(value)
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del objs, put, values
        return (after - before) / n

    return run


def memory_idle_run(peer: Peer) -> Callable[[int], float]:
    """Bytes per empty channel, everything a program keeps for it (mpsc: Sender and Receiver)."""

    def run(n: int) -> float:
        make = peer.make
        width = len(make() or ())
        keep: list[Any] = [None] * (n * width)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            j = 0
            for _ in range(n):
                for obj in make() or ():
                    keep[j] = obj
                    j += 1
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del keep
        return (after - before) / n

    return run


# -- the suite ------------------------------------------------------------------------------------


# -- processes ------------------------------------------------------------------------------------
#
# Every process workload starts its processes afresh for each run (forkserver; not timed) and
# goes through one protocol (_run_roles): each child gets its ends as Process arguments and a
# report pipe to the parent. Receivers set up first (a zmq PULL socket binds), then, after a
# first barrier, senders (a PUSH socket connects); a second barrier starts the clock. Each
# child reports the time it passed that barrier and its results; once every child has, the
# parent tells each one to close its senders (``finish``) and count what is left on its
# receivers, collects the counts and reaps the children. The run's time is from the earliest
# start to the consumer's last message, all on CLOCK_MONOTONIC, one clock for every process.
# Senders are closed only once every message has arrived: closing a zmq PUSH socket right after
# its last send lost messages here (ipc://, 4 producers, default linger), although term()
# returned only after its linger.

# Each small message is (i, PAD): a tuple whose pickle is 25-30 bytes, as issue 11 sets it.
_PAD = "mpsc-msg"
# Large messages: 10 MB bytes, i (8 bytes, little-endian) at the start and at the end.
LARGE_SIZE = 10_000_000
_STAMP = 8


def _ctx() -> Any:
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    # The forkserver imports these once, when it starts, and each child forked from it has them:
    # a child then imports only this module and peers (~100 ms less per process). Not these two
    # themselves: before 3.13 the forkserver ignores the parent's sys.path, and with it this
    # directory. Not zmq or faster_fifo either (see FasterFifoPeer). mpsc.redis (and redis-py)
    # for the Redis workloads' children; a module that does not import is left out.
    ctx.set_forkserver_preload(
        ["asyncio", "tracemalloc", "mpsc.process", "multiprocessing.queues", "mpsc.redis"]
    )
    return ctx


def _large_payload(i: int, filler: bytes) -> bytes:
    stamp = i.to_bytes(_STAMP, "little")
    return stamp + filler + stamp


def _large_ok(message: Any) -> int:
    """i of a large message, or -1 if its length or its stamps are wrong."""
    if len(message) != LARGE_SIZE or message[:_STAMP] != message[-_STAMP:]:
        return -1
    return int.from_bytes(message[:_STAMP], "little")


def _role(body: Callable[[], tuple[Any, ...]], start: Any, report: Any) -> None:
    """A child process: run ``body`` (which passes the barrier twice and returns its report and
    a closing step), send the report, wait for the parent's word, then close its senders and
    count the leftovers of its receivers."""
    try:
        done, leftover = body()
        report.send(("done", *done))
        report.recv()  # every process has reported: close, count what is left
        report.send(("left", leftover()))
    except BaseException as exc:
        start.abort()  # nobody waits for this process at the barrier
        try:
            report.send(("error", f"{type(exc).__name__}: {exc}"))
        finally:
            raise


def _producer_role(peer: Any, end: Any, large: bool, start: Any, lo: int, hi: int, wait: float,
                   report: Any) -> None:  # fmt: skip
    def body() -> tuple[Any, ...]:
        start.wait(wait)  # the receivers are ready
        out = peer.sender(end, large)
        put = out.put
        if large:  # made before the clock starts: a payload per message, consumed as sent
            filler = bytes(range(256)) * ((LARGE_SIZE - 2 * _STAMP) // 256 + 1)
            filler = filler[: LARGE_SIZE - 2 * _STAMP]
            payloads = [_large_payload(i, filler) for i in range(hi - 1, lo - 1, -1)]
            del filler
            start.wait(wait)
            t0 = perf_counter()
            while payloads:
                put(payloads.pop())
        else:
            start.wait(wait)
            t0 = perf_counter()
            for i in range(lo, hi):
                put((i, _PAD))
        t1 = perf_counter()

        def finish() -> int:
            out.finish()
            return 0

        return (t0, t1, 0, 0), finish

    _role(body, start, report)


def _consumer_role(peer: Any, end: Any, large: bool, start: Any, n: int, wait: float, report: Any) -> None:
    def body() -> tuple[Any, ...]:
        inp = peer.receiver(end, large)
        start.wait(wait)
        start.wait(wait)
        t0 = perf_counter()
        get = inp.get
        total = bad = 0
        if large:
            for _ in range(n):
                i = _large_ok(get())
                if i < 0:
                    bad += 1
                total += i
        else:
            for _ in range(n):
                total += get()[0]
        t1 = perf_counter()

        def leftover() -> int:
            left = inp.leftover()
            inp.finish()
            return left

        return (t0, t1, total, bad), leftover

    _role(body, start, report)


def _echo_role(peer: Any, requests: Any, replies: Any, start: Any, n: int, wait: float, report: Any) -> None:
    def body() -> tuple[Any, ...]:
        inp = peer.receiver(requests, False)
        start.wait(wait)
        out = peer.sender(replies, False)
        start.wait(wait)
        t0 = perf_counter()
        get, put = inp.get, out.put
        for _ in range(n):
            put(get())
        t1 = perf_counter()

        def leftover() -> int:
            out.finish()
            left = inp.leftover()
            inp.finish()
            return left

        return (t0, t1, 0, 0), leftover

    _role(body, start, report)


def _pinger_role(
    peer: Any, replies: Any, requests: Any, start: Any, n: int, wait: float, report: Any
) -> None:
    def body() -> tuple[Any, ...]:
        inp = peer.receiver(replies, False)
        start.wait(wait)
        out = peer.sender(requests, False)
        start.wait(wait)
        t0 = perf_counter()
        get, put = inp.get, out.put
        total = 0
        for i in range(n):
            put((i, _PAD))
            total += get()[0]
        t1 = perf_counter()

        def leftover() -> int:
            out.finish()
            left = inp.leftover()
            inp.finish()
            return left

        return (t0, t1, total, 0), leftover

    _role(body, start, report)


def _run_roles(ctx: Any, roles: list[tuple[str, Callable[..., None], tuple[Any, ...]]], start: Any,
               n: int, what: str) -> tuple[list[tuple[Any, ...]], int]:  # fmt: skip
    """Start one process per role, let them through the two barriers, and collect each one's
    report and then its leftover count. Every child is reaped before this returns or raises."""
    from multiprocessing.connection import wait

    timeout = _timeout(n)
    pipes = [ctx.Pipe() for _ in roles]
    children = [
        ctx.Process(target=target, args=(*args, timeout, child_end), name=name, daemon=True)
        for (name, target, args), (_, child_end) in zip(roles, pipes, strict=True)
    ]
    ours = [parent_end for parent_end, _ in pipes]

    def failure(first: int, text: str) -> BenchmarkError:
        """The error a child reported, or the one that made the others' barrier break."""
        errors = [f"{children[first].name}: {text}"]
        others = [c for c in ours if c is not ours[first]]
        deadline = perf_counter() + 1.0
        while others and perf_counter() < deadline:
            for conn in wait(others, max(0.0, deadline - perf_counter())):
                others.remove(conn)
                try:
                    message = conn.recv()
                except EOFError:
                    continue
                if message[0] == "error":
                    errors.append(f"{children[ours.index(conn)].name}: {message[1]}")
        errors.sort(key=lambda e: "BrokenBarrierError" in e)
        return BenchmarkError(f"{what}: {errors[0]}")

    def collect(kind: str) -> list[tuple[Any, ...]]:
        got: dict[int, tuple[Any, ...]] = {}
        deadline = perf_counter() + timeout
        while len(got) < len(ours):
            pending = [c for i, c in enumerate(ours) if i not in got]
            ready = wait(pending, max(0.0, deadline - perf_counter()))
            if not ready:
                late = ", ".join(children[i].name for i in range(len(ours)) if i not in got)
                raise BenchmarkError(
                    f"{what}: no word from {late} after {timeout:.0f} s — messages lost or a hang"
                )
            for conn in ready:
                i = ours.index(conn)
                try:
                    message = conn.recv()
                except EOFError:
                    child = children[i]
                    child.join(5)
                    raise BenchmarkError(
                        f"{what}: {child.name} ended (exit code {child.exitcode}) without reporting"
                    ) from None
                if message[0] == "error":
                    raise failure(i, message[1])
                if message[0] != kind:
                    raise BenchmarkError(f"{what}: {children[i].name} sent {message!r}, expected {kind!r}")
                got[i] = message[1:]
        return [got[i] for i in range(len(ours))]

    try:
        for child in children:
            child.start()
        for _, child_end in pipes:
            child_end.close()
        try:
            start.wait(timeout)  # receivers ready
            start.wait(timeout)  # everybody ready: the clock starts in each process
        except threading.BrokenBarrierError:
            collect("done")  # raises the child's own error, if one sent it
            raise BenchmarkError(f"{what}: a process broke the start barrier") from None
        reports = collect("done")
        for conn in ours:
            conn.send("check")
        leftover = sum(left for (left,) in collect("left"))
        for child in children:
            child.join(timeout)
            if child.exitcode != 0:
                raise BenchmarkError(f"{what}: {child.name} ended with exit code {child.exitcode}")
        return reports, leftover
    finally:
        for child in children:
            if child.pid is None:  # its start failed (or never came)
                continue
            if child.is_alive():
                child.kill()
            child.join(5)
        for conn in ours:
            conn.close()


def process_run(peer: Any, producers: int, large: bool = False) -> Callable[[int], float]:
    """n messages from ``producers`` processes to one consumer process: small tuples (msg/s),
    or 10 MB bytes payloads (MB/s). The sum of the i's is checked, large payloads' length and
    stamps too, and nothing may be left once every producer has ended."""
    what = f"{producers} process(es) → 1{' (10 MB)' * large}, {peer.name}"

    def run(n: int) -> float:
        ctx = _ctx()
        chan = peer.channel(ctx, producers, large)
        start = ctx.Barrier(producers + 2)
        roles: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
            (f"producer-{p}", _producer_role,
             (peer, chan.producer_ends[p], large, start, p * n // producers, (p + 1) * n // producers))
            for p in range(producers)
        ]  # fmt: skip
        roles.append(("consumer", _consumer_role, (peer, chan.consumer_end, large, start, n)))
        try:
            reports, leftover = _run_roles(ctx, roles, start, n, what)
        finally:
            chan.close()
        _, end, total, bad = reports[-1]
        if bad:
            raise BenchmarkError(f"{what}: {bad} payloads arrived with a wrong length or torn stamps")
        _check(what, n, total, leftover)
        elapsed = end - min(r[0] for r in reports)
        return n * LARGE_SIZE / 1e6 / elapsed if large else n / elapsed

    return run


def process_pingpong_run(peer: Any) -> Callable[[int], float]:
    """Round trips between two processes: a pinger sends (i, PAD) on one channel and waits for
    it to come back from an echo process on a second one; one message in flight at a time."""
    what = f"process ping-pong, {peer.name}"

    def run(n: int) -> float:
        ctx = _ctx()
        requests = peer.channel(ctx, 1, False)
        replies = peer.channel(ctx, 1, False)
        start = ctx.Barrier(3)
        roles: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = [
            ("echo", _echo_role, (peer, requests.consumer_end, replies.producer_ends[0], start, n)),
            ("pinger", _pinger_role, (peer, replies.consumer_end, requests.producer_ends[0], start, n)),
        ]
        try:
            reports, leftover = _run_roles(ctx, roles, start, n, what)
        finally:
            requests.close()
            replies.close()
        t0, t1, total, _ = reports[1]
        _check(what, n, total, leftover)
        return n / (t1 - t0)

    return run


GROUPS = {
    "threads": "Threads",
    "processes": "Processes (producer processes → a consumer process)",  # the msg/s panel
    "waiters": "Many waiters (the reference is 10³ of them: a ratio below 1 is growth)",
    "select": "select",
    "asyncio": "asyncio",
    "memory": "Memory (tracemalloc; lower is better)",
    "redis": "mpsc.redis (a loopback redis-server; the reference is plain redis-py)",
}


def build(peers: dict[str, Peer], process_peers: dict[str, ProcessPeer]) -> list[Workload]:
    """Every workload with its rows; peers that cannot run one are listed as skipped."""
    workloads: list[Workload] = []

    def rows_for(
        workload: Workload, names: list[str], make_row: Callable[[Peer], Callable[[int], float] | None]
    ) -> None:
        for name in names:
            peer = peers[name]
            if peer.skip_reason is not None:
                workload.skipped[name] = peer.skip_reason
                continue
            run = make_row(peer)
            if run is None:
                workload.skipped[name] = "does not offer this workload"
                continue
            workload.rows.append(Row(name, run, peer.note))

    thread_peers = ["mpsc", "mpsc for-loop", "queue.SimpleQueue", "queue.Queue", "aiologic", "culsans"]
    bounded_peers = ["mpsc", "mpsc for-loop", "queue.Queue", "aiologic", "culsans"]
    for key, title, capacity, producers, reference, n, nq, names in [
        ("spsc_unbounded", "SPSC, unbounded", None, 1, "queue.SimpleQueue", 200_000, 40_000, thread_peers),
        ("mpsc4_unbounded", "4 producers → 1, unbounded", None, 4, "queue.SimpleQueue", 200_000, 40_000,
         thread_peers),
        ("spsc_bounded64", "SPSC, bounded(64)", 64, 1, "queue.Queue", 50_000, 10_000, bounded_peers),
        ("mpsc4_bounded1", "4 producers → 1, bounded(1)", 1, 4, "queue.Queue", 30_000, 6_000, bounded_peers),
    ]:  # fmt: skip
        workload = Workload(key, title, "threads", "msg/s", True, reference, n, nq)
        workload.split = 1 if capacity is None else 3
        workload.description = (
            f"{producers} producer thread{'s' * (producers > 1)} → 1 consumer thread, "
            f"{'unbounded' if capacity is None else f'capacity {capacity}'}; n ints, sum checked"
        )

        def thread_row(
            peer: Peer, capacity: int | None = capacity, producers: int = producers, key: str = key
        ) -> Any:
            if peer.threads(capacity, producers) is None:
                return None
            return threads_run(lambda: peer.threads(capacity, producers), producers, f"{key} {peer.name}")

        rows_for(workload, names, thread_row)
        workloads.append(workload)

    scaling = Workload("mpmc_scaling", "k producers x k consumers, unbounded", "threads", "msg/s", True,
                       "mpsc 1x1", 200_000, 40_000)  # fmt: skip
    scaling.description = (
        "k producer and k consumer threads on one channel (mpsc consumers iterate); "
        "on a free-threaded build the rate may grow with k up to the cores"
    )
    scaling.rows += [Row(f"mpsc {k}x{k}", mpmc_run("mpsc", k)) for k in (1, 2, 4)]
    scaling.rows += [Row(f"queue.SimpleQueue {k}x{k}", mpmc_run("queue.SimpleQueue", k)) for k in (1, 2, 4)]
    workloads.append(scaling)

    pingpong = Workload("pingpong", "ping-pong round trips", "threads", "round trips/s", True,
                        "queue.SimpleQueue", 40_000, 8_000)  # fmt: skip
    pingpong.description = "two channels and an echo thread; one message in flight at a time"
    pingpong.split = 3
    rows_for(
        pingpong,
        ["mpsc", "mpsc bounded(0)", *thread_peers[2:]],
        lambda peer: (
            None if peer.pingpong() is None else pingpong_run(peer.pingpong, f"pingpong {peer.name}")
        ),
    )
    workloads.append(pingpong)

    # select: rows are mpsc's and pygolang's own calls; the reference is mpsc's plain recv.
    go = peers["pygolang"]
    ready = Workload("select4_ready", "select over 4, one ready", "select", "ops/s", True, "mpsc recv",
                     200_000, 40_000)  # fmt: skip
    ready.description = "one thread; only one of 4 channels holds messages; select vs a plain recv"
    ready.rows += [
        Row("mpsc recv", select_ready_mpsc("recv"), "Receiver.recv on the ready channel"),
        Row("mpsc select", select_ready_mpsc("select"), "mpsc.select(r0, r1, r2, r3)"),
        Row("mpsc Select", select_ready_mpsc("Select"), "a reused mpsc.Select(...).select()"),
    ]
    from mpsc import _select

    if _select.PASS is not None:  # the pure-Python pass, which builds without a compiler fall back on
        ready.rows.append(
            Row("mpsc select (pure)", select_ready_mpsc("pure select"), "mpsc.select without its C try pass")
        )
    blocked = Workload("select8_blocked", "blocked select over 8, woken by one send", "select",
                       "round trips/s", True, "mpsc recv", 40_000, 8_000)  # fmt: skip
    blocked.split = 3
    blocked.description = (
        "an echo thread blocks in select over 8 channels (or a plain recv); pinger sends, waits"
    )
    blocked.rows += [
        Row("mpsc recv", select_blocked_mpsc("recv"), "echo blocked in Receiver.recv"),
        Row("mpsc select", select_blocked_mpsc("select"), "echo blocked in mpsc.select over 8"),
    ]
    if go.skip_reason is None:
        ready.rows += [
            Row("pygolang recv", select_ready_pygolang("recv"), "chan.recv"),
            Row("pygolang select", select_ready_pygolang("select"), "golang.select over 4"),
        ]
        blocked.rows += [
            Row("pygolang recv", select_blocked_pygolang("recv"), "chan(1).recv"),
            Row("pygolang select", select_blocked_pygolang("select"), "golang.select over 8"),
        ]
    else:
        ready.skipped["pygolang"] = blocked.skipped["pygolang"] = go.skip_reason
    workloads += [ready, blocked]

    bridge = ["mpsc", "aiologic", "culsans", "janus"]
    t2a = Workload("thread_to_asyncio", "thread → asyncio", "asyncio", "msg/s", True, "aiologic",
                   200_000, 40_000)  # fmt: skip
    t2a.description = (
        "a producer thread, a consumer task on the loop; unbounded. "
        "asyncio.Queue: loop.call_soon_threadsafe(q.put_nowait, x) from the thread"
    )
    rows_for(
        t2a,
        [*bridge, "asyncio.Queue"],
        lambda peer: (
            thread_to_async_run(peer, f"thread→asyncio {peer.name}")
            if _offers(peer.thread_to_async)
            else None
        ),
    )
    a2t = Workload("asyncio_to_thread", "asyncio → thread", "asyncio", "msg/s", True, "aiologic",
                   200_000, 40_000)  # fmt: skip
    a2t.description = (
        "a producer task, a consumer thread; unbounded. "
        "queue.SimpleQueue: the stdlib way out of a loop, put() (never blocks) called in the task"
    )
    rows_for(
        a2t,
        [*bridge, "queue.SimpleQueue"],
        lambda peer: (
            async_to_thread_run(peer, f"asyncio→thread {peer.name}")
            if _offers(peer.async_to_thread)
            else None
        ),
    )
    a2a = Workload("asyncio_to_asyncio", "asyncio → asyncio, one loop", "asyncio", "msg/s", True,
                   "asyncio.Queue", 200_000, 40_000)  # fmt: skip
    a2a.description = "a producer task and a consumer task on one loop; unbounded"
    rows_for(
        a2a,
        [*bridge, "asyncio.Queue"],
        lambda peer: (
            async_to_async_run(peer, f"asyncio→asyncio {peer.name}") if _offers(peer.async_to_async) else None
        ),
    )
    workloads += [t2a, a2t, a2a]

    # Many waiters on one channel: the cost per waiter should not grow with their number.
    for key, title, make_run, unit in [
        ("waiters_tasks", "10³ → 10⁴ tasks leaving one channel", waiters_tasks_run, "waiters/s"),
        ("waiters_threads", "10³ → 10⁴ threads woken on one channel", waiters_threads_run, "waiters/s"),
    ]:
        workload = Workload(key, title, "waiters", unit, True, "mpsc 10³", 10_000, 10_000)
        workload.description = (
            "tasks parked in recv_async, cancelled in reverse order"
            if key == "waiters_tasks"
            else "threads parked in recv, each woken by one send, in order"
        )
        workload.max_repeats, workload.warm_up = 3, False
        workload.rows += [Row("mpsc 10³", _sized(make_run(), 10)), Row("mpsc 10⁴", make_run())]
        workloads.append(workload)

    # Processes: every run starts its processes (forkserver, not timed), so 3 runs per row, and
    # no warm-up run: each run's processes are new, and their start is not timed.
    def process_rows(
        workload: Workload, kind: str, make_run: Callable[[Any], Callable[[int], float]]
    ) -> None:
        for name, peer in process_peers.items():
            reason = peer.offers(kind)
            if reason is None:
                note = peer.large_note if kind == "large" else peer.note
                workload.rows.append(Row(name, make_run(peer), note))
            elif reason:  # "": a variant that is not meant for this workload, left out
                workload.skipped[name] = reason
        workload.max_repeats, workload.warm_up = 3, False

    for key, kind, title, producers in [
        ("process_spsc", "spsc", "1 process → 1 process", 1),
        ("process_mpsc4", "mpsc4", "4 processes → 1 process", 4),
    ]:
        workload = Workload(key, title, "processes", "msg/s", True, "multiprocessing.Queue", 80_000, 12_000)
        workload.description = (
            f"{producers} producer process{'es' * (producers > 1)} → 1 consumer process "
            "(forkserver; start not timed); n small tuples (i, str), 25-30-byte pickles; sum checked"
        )
        process_rows(workload, kind, lambda peer, producers=producers: process_run(peer, producers))
        workloads.append(workload)
    pp = Workload("process_pingpong", "ping-pong between two processes", "processes", "round trips/s", True,
                  "multiprocessing.Queue", 10_000, 1_500)  # fmt: skip
    pp.description = (
        "a pinger process sends (i, str) on one channel, an echo process sends it back on another; "
        "one message in flight; sum checked"
    )
    process_rows(pp, "pingpong", process_pingpong_run)
    pp.split = 2  # its speed swings with where the scheduler puts the two processes: more samples
    large = Workload("process_large", "10 MB bytes payloads, 1 process → 1", "processes", "MB/s", True,
                     "multiprocessing.Queue", 30, 10)  # fmt: skip
    large.description = (
        f"n bytes payloads of {LARGE_SIZE / 1e6:g} MB (MB = 10⁶ bytes), made before the clock starts; "
        "length, stamps and sum checked.\n   Copies of the payload per message: mpsc.process 3 "
        "(pickle, write to a memfd, unpickle from its mapping); multiprocessing.Queue and Pipe 5 "
        "(pickle, pipe write, pipe read, BytesIO, unpickle); bare socket 2 (raw bytes, no pickle)"
    )
    process_rows(large, "large", lambda peer: process_run(peer, 1, large=True))
    workloads += [pp, large]

    memory_peers = ["mpsc", "collections.deque", "queue.SimpleQueue", "queue.Queue",
                    "asyncio.Queue", "aiologic", "culsans", "janus"]  # fmt: skip
    queued = Workload("memory_queued", "bytes per queued message", "memory", "B/msg", False,
                      "collections.deque", 1_000_000, 200_000)  # fmt: skip
    queued.description = "n ints queued (allocated beforehand), traced bytes / n"
    rows_for(
        queued,
        ["mpsc bounded(10**6)", *memory_peers],
        lambda peer: memory_queued_run(peer) if peer.make() is not None else None,
    )
    idle = Workload("memory_idle", "bytes per idle channel", "memory", "B/channel", False,
                    "collections.deque", 10_000, 2_000)  # fmt: skip
    idle.description = "n empty channels kept alive (mpsc: Sender + Receiver), traced bytes / n"
    rows_for(
        idle,
        ["mpsc bounded(64)", *memory_peers],
        lambda peer: memory_idle_run(peer) if peer.make() is not None else None,
    )
    for workload in (queued, idle):
        workload.max_repeats, workload.warm_up = 3, False
    if go.skip_reason is None:
        reason = "C++ allocations are invisible to tracemalloc"
        queued.skipped["pygolang"] = idle.skipped["pygolang"] = reason
    workloads += [queued, idle]
    workloads += _redis_workloads()
    return workloads


def _redis_workloads() -> list[Workload]:
    """mpsc.redis against plain redis-py, on a redis-server the run starts (see
    benchmarks/redis_workloads.py)."""
    import redis_workloads as rw

    reason = rw.skip_reason()
    found = []
    for key, title, reference, rows in [
        ("redis_send", "Redis: 1 → 1 sends, small messages", "redis-py XADD", rw.SEND_ROWS),
        ("redis_recv", "Redis: 1 → 1 receives, small messages", "redis-py XREADGROUP+XACK", rw.RECV_ROWS),
    ]:
        workload = Workload(key, title, "redis", "msg/s", True, reference, 20_000, 4_000)
        workload.description = "one client, loopback redis-server (no persistence); sum checked"
        # Round trips to the server's process: their speed swings with where the scheduler puts
        # the two processes, as ping-pong's does, so 2 runs of n/2 per repeat.
        workload.max_repeats, workload.split = 3, 2
        found.append(workload)
    fanin = Workload(
        "redis_fanin", f"Redis: {rw.PRODUCERS} → {rw.CONSUMERS} processes, small messages",
        "redis", "msg/s", True, rw.FANIN_REFERENCE, 12_000, 2_000,
    )  # fmt: skip
    fanin.description = (
        "forkserver processes (start not timed), small ints; sum and count checked; server CPU = "
        "utime+stime of redis-server (/proc) over the run"
    )
    fanin.max_repeats, fanin.warm_up = 3, False
    disconnect = Workload(
        "redis_disconnect", "Redis: disconnection after SIGKILL of the last sender", "redis", "s",
        False, rw.disconnect_row(rw.default_lease()), 2, 1,  # (n: 1 per run, after the split)
    )  # fmt: skip
    disconnect.description = (
        "a receiver process blocked in recv(), the only sender's process SIGKILLed at a random "
        "point of its lease's renewal period: seconds from the kill to RecvError, one round per run"
    )
    # 10 rounds per row in a full run (the max is the figure that matters), 3 with --quick.
    disconnect.warm_up, disconnect.split, disconnect.split_quick = False, 2, 1
    found += [fanin, disconnect]
    for workload, rows in zip(
        found, [rw.SEND_ROWS, rw.RECV_ROWS, rw.FANIN_ROWS, rw.DISCONNECT_ROWS], strict=True
    ):
        for name, run in rows.items():
            if reason is not None:
                workload.skipped[name] = reason
            else:
                workload.rows.append(Row(name, run))
    return found


def _sized(run: Callable[[int], float], fraction: int) -> Callable[[int], float]:
    """``run`` with a tenth (or another fraction) of the workload's n."""
    return lambda n: run(max(1, n // fraction))


def _offers(method: Callable[[asyncio.AbstractEventLoop], Ends | None]) -> bool:
    """Whether a peer's asyncio method gives ends (asked outside a loop, with a throwaway loop)."""
    loop = asyncio.new_event_loop()
    try:
        ends = method(loop)
        if ends is not None:
            _close_quietly(ends, loop)
        return ends is not None
    finally:
        loop.close()


def _close_quietly(ends: Ends, loop: asyncio.AbstractEventLoop) -> None:
    result = ends.close()
    if asyncio.iscoroutine(result):
        result.close()
