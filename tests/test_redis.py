"""mpsc.redis against a real redis-server (tests/redis_server.py): the thread channels' API and
errors, exact bounds, leases and disconnection across processes, delivery when a process is
SIGKILLed, a server that is down, restarted or paused, bad input, pickling, asyncio, hygiene."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis_children as children
from checkpoints import quietly
from helpers import WAIT, drained, recv_all
from redis_server import RedisServer, free_port

import mpsc
import mpsc.redis
from mpsc.redis._handles import _GIVING, OWN_ERROR_NOTE

FORKSERVER = multiprocessing.get_context("forkserver")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One server for the tests that do not harm it (no persistence: faster)."""
    srv = RedisServer(tmp_path_factory.mktemp("redis"), persist=False)
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, with persistence, to kill, pause or restart."""
    srv = RedisServer(tmp_path / "redis", persist=True)
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def url(server: RedisServer) -> str:
    return server.url


def keys_of(server: RedisServer, name: str) -> list[bytes]:
    found: list[bytes] = server.command("KEYS", f"*{name}*")
    return sorted(found)


# -- the API ---------------------------------------------------------------------------------


def test_send_recv_and_errors_are_mpscs(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    t0 = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.2)
    assert 0.18 <= time.monotonic() - t0 < 2.0
    tx.send("hi")
    tx.send({"a": [1, 2]})
    assert rx.recv() == "hi"
    assert rx.recv_timeout(1) == {"a": [1, 2]}
    tx.send(3)
    tx.close()
    assert rx.recv() == 3  # drained after the last sender went
    with pytest.raises(mpsc.RecvError):
        rx.recv()
    with pytest.raises(mpsc.TryRecvError):  # final
        rx.try_recv()
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        rx.recv()


def test_send_error_carries_value_when_receivers_gone(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    tx.send(1)
    rx.close()
    with pytest.raises(mpsc.SendError) as info:
        tx.send("lost")
    assert info.value.value == "lost"
    assert tx.is_disconnected()
    tx.close()


def test_iteration_clone_and_with(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    assert tx.same_channel(rx)
    results: list[int] = []

    def worker(sender: mpsc.redis.Sender[int], base: int) -> None:
        with sender:
            for i in range(50):
                sender.send(base + i)

    threads = [threading.Thread(target=worker, args=(tx.clone(), 1000 * k)) for k in range(3)]
    tx.close()
    for t in threads:
        t.start()
    with rx:
        for value in rx:
            results.append(value)
    for t in threads:
        t.join(10)
    assert sorted(results) == sorted(1000 * k + i for k in range(3) for i in range(50))
    for k in range(3):  # per-sender FIFO
        mine = [v for v in results if v // 1000 == k]
        assert mine == sorted(mine)


def test_mpmc_clones_share_messages(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    rx2 = rx.clone()
    tx.send_many(range(300))
    tx.close()
    got: list[list[int]] = [[], []]

    def drain(r: mpsc.redis.Receiver[int], into: list[int]) -> None:
        with r:
            into.extend(r)

    ts = [threading.Thread(target=drain, args=(r, g)) for r, g in zip((rx, rx2), got, strict=True)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(10)
    assert sorted(got[0] + got[1]) == list(range(300))


def test_bounded_is_exact_and_wakes_blocked_sender(url: str) -> None:
    tx, rx = mpsc.redis.bounded(url, 3)
    assert tx.capacity == 3
    for i in range(3):
        tx.try_send(i)
    with pytest.raises(mpsc.Full) as info:
        tx.try_send(99)
    assert info.value.value == 99
    assert len(rx) == 3
    assert tx.is_full()
    t0 = time.monotonic()
    with pytest.raises(mpsc.Timeout) as tinfo:
        tx.send_timeout(98, 0.2)
    assert tinfo.value.value == 98
    assert time.monotonic() - t0 >= 0.18
    done = threading.Event()

    def blocked() -> None:
        tx.send(3)  # waits for room
        done.set()

    t = threading.Thread(target=blocked)
    t.start()
    assert not done.wait(0.2)
    assert len(rx) == 3  # still exactly the bound
    t1 = time.monotonic()
    assert rx.recv() == 0
    assert done.wait(5)
    assert time.monotonic() - t1 < 0.5  # woken by the room, not by a poll
    t.join(5)
    assert [rx.recv() for _ in range(3)] == [1, 2, 3]
    tx.close()
    rx.close()


def test_bounded_never_exceeds_capacity_under_concurrency(url: str) -> None:
    tx, rx = mpsc.redis.bounded(url, 2)
    name = tx.name
    stop = threading.Event()
    seen: list[int] = []

    def watch() -> None:
        import redis

        client = redis.Redis.from_url(url)
        while not stop.is_set():
            seen.append(int(client.xlen(name)))
        client.close()

    def produce(s: mpsc.redis.Sender[int]) -> None:
        with s:
            for i in range(100):
                s.send(i)

    watcher = threading.Thread(target=watch)
    watcher.start()
    producers = [threading.Thread(target=produce, args=(tx.clone(),)) for _ in range(3)]
    tx.close()
    for p in producers:
        p.start()
    got = list(rx)
    for p in producers:
        p.join(10)
    stop.set()
    watcher.join(5)
    assert len(got) == 300
    assert max(seen) <= 2
    rx.close()


# -- rendezvous (capacity 0) -------------------------------------------------------------------


def until(condition: Any, within: float = 10.0) -> None:
    """Wait for a condition on the server (what no event can say), looking every 10 ms."""
    give_up = time.monotonic() + within
    while not condition():
        assert time.monotonic() < give_up, "the condition did not come true in time"
        time.sleep(0.01)


def waiting_receivers(server: RedisServer, name: str) -> int:
    return int(server.command("ZCARD", f"{{{name}}}:mpsc:wait"))


def test_rendezvous_send_returns_once_taken(url: str, server: RedisServer) -> None:
    tx, rx = mpsc.redis.bounded(url, 0)
    assert tx.capacity == 0 and rx.capacity == 0
    with pytest.raises(mpsc.Full) as full:
        tx.try_send("nobody waits")  # nobody is in recv: refused, nothing left
    assert full.value.value == "nobody waits"
    with pytest.raises(mpsc.Timeout) as late:
        tx.send_timeout("never taken", 0.2)  # the offer is withdrawn
    assert late.value.value == "never taken"
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.2)  # and its announcement taken back: try_send still finds nobody
    with pytest.raises(mpsc.Full):
        tx.try_send("still nobody")
    assert waiting_receivers(server, rx.name) == 0
    # A send returns only once a receiver took the value.
    returned = threading.Event()
    sender = threading.Thread(target=lambda: (tx.send_timeout("offered", 10), returned.set()))
    sender.start()
    until(lambda: len(rx) == 1)  # the offer is posted, and the send has not returned
    assert not returned.is_set()
    assert rx.recv_timeout(5) == "offered"
    assert returned.wait(5)
    sender.join(5)
    # try_send succeeds when a receiver waits in recv right now.
    got: list[Any] = []
    receiver = threading.Thread(target=lambda: got.append(rx.recv_timeout(10)))
    receiver.start()
    until(lambda: waiting_receivers(server, rx.name) == 1)
    tx.try_send("handed")
    receiver.join(5)
    assert got == ["handed"]
    # Many hand-offs, each value exactly once, in order.
    producer = threading.Thread(target=lambda: [tx.send_timeout(i, 10) for i in range(100)])
    producer.start()
    assert [rx.recv_timeout(5) for _ in range(100)] == list(range(100))
    producer.join(5)
    assert len(rx) == 0
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5)
    rx.close()


def test_rendezvous_disconnection(url: str) -> None:
    tx, rx = mpsc.redis.bounded(url, 0)
    errors: list[Any] = []

    def blocked() -> None:
        try:
            tx.send_timeout("stuck", 10)
        except mpsc.SendError as e:
            errors.append(e.value)

    sender = threading.Thread(target=blocked)
    sender.start()
    until(lambda: len(tx) == 1)
    t0 = time.monotonic()
    rx.close()  # the last receiver goes: the blocked sender gets its value back at once
    sender.join(5)
    assert errors == ["stuck"] and time.monotonic() - t0 < 1.0
    with pytest.raises(mpsc.SendError):
        tx.try_send(1)
    tx.close()
    tx, rx = mpsc.redis.bounded(url, 0)
    ended: list[BaseException] = []

    def waiting() -> None:
        try:
            rx.recv_timeout(10)
        except mpsc.RecvError as e:
            ended.append(e)

    receiver = threading.Thread(target=waiting)
    receiver.start()
    tx.close()  # the last sender goes: the waiting receiver sees RecvError
    receiver.join(5)
    assert len(ended) == 1
    rx.close()


class Alarm(Exception):
    """Raised by a SIGALRM handler: an exception landing in the middle of a call, as Ctrl-C."""


def test_rendezvous_interrupted_calls_leave_nothing_behind(url: str, server: RedisServer) -> None:
    """An exception landing while a rendezvous send waits for its offer to be taken (or a
    receive waits, announced): the offer (the announcement) is taken back, then it is raised."""
    tx, rx = mpsc.redis.bounded(url, 0)

    def alarm(signum: int, frame: Any) -> None:
        raise Alarm()

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Alarm):
            tx.send_timeout("interrupted", 5)
        assert len(rx) == 0  # no offer left: the value is never received
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Alarm):
            rx.recv_timeout(5)
        assert waiting_receivers(server, rx.name) == 0  # no announcement left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    with pytest.raises(mpsc.Full):
        tx.try_send("nobody waits")
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    tx.close()
    rx.close()


def test_rendezvous_conservation_processes(url: str, procs: Any) -> None:
    """2 producer and 2 consumer processes through a rendezvous channel: each value once."""
    n_prod, n_cons, per = 2, 2, 250
    tx, rx = mpsc.redis.bounded(url, 0)
    out_tx, out_rx = mpsc.redis.channel(url)
    producers = [procs.start(children.produce, tx, k, per) for k in range(n_prod)]
    consumers = [procs.start(children.consume, rx, out_tx) for _ in range(n_cons)]
    for h in (tx, rx, out_tx):
        h.close()
    every = [v for _ in range(n_cons) for v in out_rx.recv_timeout(60)]
    for p in producers + consumers:
        assert procs.join(p) == 0
    assert sorted(every) == [(k, i) for k in range(n_prod) for i in range(per)]
    out_rx.close()


def test_rendezvous_receiver_killed_after_the_hand_off(url: str, server: RedisServer, procs: Any) -> None:
    """A receiver SIGKILLed after a value was handed to it, before it returned it: the send
    had returned, and the value goes to another receiver once the dead one's lease ends
    (at least once)."""
    tx, rx = mpsc.redis.bounded(url, 0, lease=0.6)
    out_tx, out_rx = mpsc.redis.channel(url)
    child = procs.start(children.recv_one, rx.clone(), out_tx)
    until(lambda: waiting_receivers(server, rx.name) == 1)  # the child waits in recv
    os.kill(child.pid, signal.SIGSTOP)  # so that it cannot take what it is handed
    tx.try_send("handed")  # handed to the stopped child: the send is done
    os.kill(child.pid, signal.SIGKILL)
    procs.join(child)
    t0 = time.monotonic()
    assert rx.recv_timeout(10) == "handed"  # claimed from the dead receiver's pending entries
    assert time.monotonic() - t0 < 0.6 * 1.25 + 2.0  # a lease and a quarter, and round trips
    with pytest.raises(mpsc.Empty):
        out_rx.try_recv()
    for h in (tx, rx, out_tx, out_rx):
        h.close()


def test_rendezvous_sender_killed_while_offering(url: str, server: RedisServer, procs: Any) -> None:
    """A sender SIGKILLed while its offer waits to be taken: the offer is withdrawn when its
    lease ends, so the value is never received (at most once), and the channel disconnects."""
    tx, rx = mpsc.redis.bounded(url, 0, lease=0.6)
    child = procs.start(children.send_one, tx, "orphan")
    tx.close()
    until(lambda: len(rx) == 1)  # the child's offer is posted
    os.kill(child.pid, signal.SIGKILL)
    procs.join(child)
    until(rx.is_disconnected, 5)  # pruning the dead sender's lease withdraws its offer
    assert len(rx) == 0
    with pytest.raises(mpsc.RecvError):
        rx.try_recv()
    rx.close()


def test_send_many(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    tx.send_many(range(1234))
    tx.close()
    assert list(rx) == list(range(1234))
    rx.close()


# -- bad input -------------------------------------------------------------------------------


def test_bad_input(url: str, server: RedisServer) -> None:
    with pytest.raises(ValueError, match="Redis URL"):
        mpsc.redis.channel("http://localhost:1/")
    with pytest.raises(ValueError, match="port"):
        mpsc.redis.channel("redis://localhost:99999999/")
    with pytest.raises(TypeError):
        mpsc.redis.channel(None)  # type: ignore[arg-type]
    # (review 2, finding 11) URLs redis-py would read as something else, or whose options would
    # change mpsc's replies or bounds: refused before anything is made on a server.
    base = url.rsplit("/", 1)[0]
    port = server.port
    for bad in (
        "redis://127.0.0.1:0/0",
        f"{base}/abc",
        "unix:///tmp/redis.sock?db=x",
        f"{base}/0?decode_responses=true",
        f"{base}/0?socket_timeout=60",
        f"{base}/0?protocol=3",
    ):
        with pytest.raises(ValueError, match=r"Redis URL|mpsc\.redis sets"):
            mpsc.redis.channel(bad, f"never-{port}")
    assert keys_of(server, f"never-{port}") == []
    with pytest.raises(ValueError):
        mpsc.redis.bounded(url, -1)
    with pytest.raises(TypeError):
        mpsc.redis.bounded(url, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mpsc.redis.channel(url, lease=math.nan)
    server.command("SET", "plainstring", "x")
    with pytest.raises(ValueError, match="not an mpsc channel"):
        mpsc.redis.channel(url, "plainstring")
    server.command("XADD", "foreignstream", "*", "k", "v")
    with pytest.raises(ValueError, match="not an mpsc channel"):
        mpsc.redis.channel(url, "foreignstream")
    tx, rx = mpsc.redis.channel(url)
    with pytest.raises(TypeError, match="pickled"):
        tx.send(lambda: 1)
    with pytest.raises(mpsc.Empty):  # nothing was sent
        rx.try_recv()
    with pytest.raises(ValueError):
        rx.recv_timeout(math.nan)
    with pytest.raises(ValueError):
        tx.send_timeout(1, -1)
    tx.close()
    rx.close()


def _raised_when_closed(h: Any, step: Any, pause: float) -> BaseException | None:
    """``step()`` over and over in another thread until it raises, ``h`` closed from this
    thread ``pause`` seconds after the first step: what the steps raised (None: nothing)."""
    seen: list[BaseException] = []
    started = threading.Event()

    def loop() -> None:
        try:
            for _ in range(10**6):
                step()
                started.set()
        except BaseException as exc:
            seen.append(exc)
        finally:
            started.set()

    worker = threading.Thread(target=loop)
    worker.start()
    assert started.wait(WAIT)
    time.sleep(pause)  # (where in a call the close lands)
    h.close()
    worker.join(WAIT)
    assert not worker.is_alive()
    return seen[0] if seen else None


def test_close_during_another_threads_send_is_a_closed_handle(url: str) -> None:
    """Review 2, finding 02: a send cut off by another thread's ``close()`` raised
    LeaseExpiredError (as if the process had been cut off); it is ClosedHandleError, and every
    send that returned is received once."""
    outcomes: dict[str, int] = {}
    for trial in range(30):
        tx, rx = mpsc.redis.channel(url)
        sent: list[int] = []

        def send_next(tx: Any = tx, sent: list[int] = sent) -> None:
            tx.send(len(sent))
            sent.append(len(sent))

        error = _raised_when_closed(tx, send_next, trial % 7 * 0.001)
        assert isinstance(error, mpsc.ClosedHandleError), error
        outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
        got = recv_all(rx)
        assert got[: len(sent)] == sent and len(got) <= len(sent) + 1
        rx.close()
    assert outcomes == {"ClosedHandleError": 30}


def test_close_during_another_threads_clone_or_pickling_is_a_closed_handle(url: str) -> None:
    """Review 3, finding 02 (review 2's finding 02, for ``clone()`` and pickling): cut off by
    another thread's ``close()``, they raised LeaseExpiredError; it is ClosedHandleError."""
    tx0, rx0 = mpsc.redis.channel(url)  # (keeps both sides alive)
    outcomes: dict[str, int] = {}
    for trial in range(80):
        h = (tx0 if trial % 2 else rx0).clone()
        if trial % 4 < 2:
            error = _raised_when_closed(h, lambda h=h: h.clone().close(), trial % 5 * 0.0007)
        else:
            error = _raised_when_closed(h, lambda h=h: pickle.dumps(h), trial % 5 * 0.0007)
        name = type(error).__name__
        outcomes[name] = outcomes.get(name, 0) + 1
    assert outcomes == {"ClosedHandleError": 80}, outcomes
    for h in (tx0, rx0):
        h.close()


def test_a_past_deadline_is_now(url: str) -> None:
    """Review 3, finding 05: ``send_deadline``/``recv_deadline`` with an instant past by more
    than GRACE raised Timeout although room or a message was there (and -inf a raw
    OverflowError); as with the thread channels, a past deadline does what it can at once."""
    tx, rx = mpsc.redis.bounded(url, 1)
    for past in (time.monotonic() - 5.0, -math.inf):
        tx.send_deadline("sent", past)
        with pytest.raises(mpsc.Timeout):
            tx.send_deadline("no room", past)
        assert rx.recv_deadline(past) == "sent"
        with pytest.raises(mpsc.Timeout):
            rx.recv_deadline(past)
    for h in (tx, rx):
        h.close()


def test_a_receive_makes_room_for_a_send_of_the_same_process_whatever_url_each_used(
    server: RedisServer,
) -> None:
    """Review 3, finding 01: the room a receive left was acknowledged at once for a send of the
    same process only when both handles were opened with the same URL string."""
    port = server.port
    for rx_url in (f"redis://127.0.0.1:{port}", f"redis://localhost:{port}/0"):
        name = "room-" + os.urandom(4).hex()
        tx, r0 = mpsc.redis.bounded(f"redis://127.0.0.1:{port}/0", 1, name=name)
        t0, rx = mpsc.redis.bounded(rx_url, 1, name=name)
        for h in (r0, t0):
            h.close()
        tx.send(0)
        for k in range(1, 11):
            assert rx.recv_timeout(WAIT) == k - 1
            assert len(tx) == 0
            tx.send_timeout(k, 0)
        for h in (tx, rx):
            h.close()


def test_a_buffered_receive_keeps_its_bound_on_a_paused_server(own_server: RedisServer) -> None:
    """Review 2, finding 12: with values buffered and the lease due for renewal, a receive
    renewed it with no deadline first: on a paused server ``recv_timeout(0.1)`` and
    ``try_recv()`` took 6 s and raised ConnectionError. They keep their bound (the call's, or
    GRACE for try_recv: one round trip) and leave the values buffered, to be received after."""
    tx, rx = mpsc.redis.channel(own_server.url, lease=0.5)
    tx.send_many(range(10))
    assert rx.recv_timeout(WAIT) == 0  # the other nine are in rx's buffer now
    own_server.pause()
    try:
        time.sleep(0.6)  # (the wall clock past 0.9 lease: the renewal is due)
        for call, error in ((lambda: rx.recv_timeout(0.1), mpsc.Timeout), (rx.try_recv, mpsc.Empty)):
            started = time.monotonic()
            with pytest.raises(error):
                call()
            assert time.monotonic() - started < 0.1 + 1.5  # (its bound, GRACE, scheduling)
    finally:
        own_server.resume()
    assert [rx.recv_timeout(WAIT) for _ in range(9)] == list(range(1, 10))
    tx.close()
    rx.close()


def test_timed_calls_keep_their_bound_on_a_paused_server_with_a_handshake(own_server: RedisServer) -> None:
    """Review 2, finding 01: with a URL naming a database (or a password), every new connection
    sends SELECT (AUTH) first, and redis-py waited for its reply with the socket timeout: on a
    paused server each timed call after the first (which drops its connection) took 2 s."""
    url = own_server.url.rsplit("/", 1)[0] + "/1"
    tx, rx = mpsc.redis.channel(url)
    tx.send("before")
    own_server.pause()
    try:
        for call in (lambda: rx.recv_timeout(0.05), lambda: tx.send_timeout("during", 0.05)) * 2:
            started = time.monotonic()
            with pytest.raises(mpsc.Timeout):
                call()
            assert time.monotonic() - started < 0.05 + mpsc.redis._handles.GRACE + 0.5
    finally:
        own_server.resume()
    assert rx.recv_timeout(WAIT) == "before"
    with pytest.raises(mpsc.Timeout):  # the sends that raised sent nothing
        rx.recv_timeout(0.3)
    tx.close()
    rx.close()


def test_an_async_call_cancelled_on_a_paused_server_ends_cancelled(own_server: RedisServer) -> None:
    """Review 2, finding 14: a cancelled ``recv_async`` whose fetch had to be finished ended in
    ``mpsc.redis.ConnectionError`` when the server did not answer (the call's error escaped the
    wait for it), so ``wait_for`` raised that, not TimeoutError; and it waited out the fetch's
    retries (~6 s). A cancelled receive now ends within GRACE of the cancellation (its fetch is
    re-read by the next receive); a cancelled untimed send waits for its attempt to give up
    (IO_TIMEOUT after it was sent: until then the script could still enqueue the value), and
    then has sent nothing."""
    tx, rx = mpsc.redis.channel(own_server.url)
    tz, rz = mpsc.redis.bounded(own_server.url, 0)
    grace = mpsc.redis._handles.GRACE

    async def bounded_by(limit: float, make: Any, cancel_after: float = 0.3) -> None:
        task = asyncio.ensure_future(make())
        await asyncio.sleep(cancel_after)
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, WAIT)
        assert time.monotonic() - started < limit

    async def main() -> None:
        own_server.pause()
        try:
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(rx.recv_async(), 0.3)
            assert time.monotonic() - started < 0.3 + grace + 0.5
            await bounded_by(grace + 0.5, rx.recv_async)
            await bounded_by(grace + 0.5, rz.recv_async)
            await bounded_by(mpsc.redis._link.IO_TIMEOUT + 0.5, lambda: tx.send_async("during"), 0.0)
        finally:
            own_server.resume()
        tx.send("after")
        assert await asyncio.wait_for(rx.recv_async(), WAIT) == "after"

    asyncio.run(main())
    with pytest.raises(mpsc.Timeout):  # the cancelled send sent nothing
        rx.recv_timeout(0.5)
    for h in (tx, rx, tz, rz):
        h.close()


def test_a_rendezvous_send_whose_server_went_away_times_out_and_is_never_received(
    own_server: RedisServer,
) -> None:
    """Review 2, finding 06: a rendezvous ``send_timeout`` whose offer was posted withdrew it
    with a step that had no deadline: on a paused server the send took the whole pause, and on
    a server killed during the wait (and restarted from its append-only file) it raised
    ConnectionError while its offer stayed, to be received later. Now the offer expires on the
    server at the deadline: the send raises Timeout in time and nobody receives the value."""
    grace = mpsc.redis._handles.GRACE
    for outage in ("pause", "kill"):
        tx, rx = mpsc.redis.bounded(own_server.url, 0)
        outcome: list[Any] = []

        def send(tx: Any = tx, outcome: list[Any] = outcome) -> None:
            started = time.monotonic()
            try:
                tx.send_timeout("v", 0.5)
                outcome.append("returned")
            except Exception as exc:
                outcome.append(exc)
            outcome.append(time.monotonic() - started)

        sender = threading.Thread(target=send)
        sender.start()
        until(lambda rx=rx: len(rx) == 1)  # the offer is posted; no receiver waits
        if outage == "pause":
            own_server.pause()
        else:
            own_server.kill()
        try:
            sender.join(WAIT)
            assert not sender.is_alive()
        finally:
            if outage == "pause":
                own_server.resume()
            else:
                own_server.start()
        error, took = outcome
        assert isinstance(error, mpsc.Timeout) and error.value == "v", outage
        assert took < 0.5 + grace + 0.6, outage
        with pytest.raises(mpsc.Timeout):  # its offer expired: a receiver does not get it
            rx.recv_timeout(1.0)
        tx.close()
        rx.close()


def test_an_untimed_rendezvous_offer_lives_while_its_sender_waits_and_dies_with_the_server(
    own_server: RedisServer,
) -> None:
    """Review 2, finding 06: an untimed rendezvous offer lives OFFER seconds past its last
    extension, and its sender extends it while it waits: a receiver that comes much later gets
    it; on a server paused longer than OFFER it expires, and the sender posts it again (once);
    a sender whose server went away raises ConnectionError, and its offer, expired by then, is
    not received when the server is back."""
    offer = mpsc.redis._handles.OFFER
    tx, rx = mpsc.redis.bounded(own_server.url, 0)

    def sending(value: str, outcome: list[Any]) -> threading.Thread:
        def run() -> None:
            try:
                tx.send(value)
                outcome.append("returned")
            except Exception as exc:
                outcome.append(exc)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    outcome: list[Any] = []
    sender = sending("late receiver", outcome)
    until(lambda: len(rx) == 1)
    time.sleep(3 * offer)  # (no receiver: the offer outlives its first expiry by extensions)
    assert rx.recv_timeout(WAIT) == "late receiver"
    sender.join(WAIT)
    assert outcome == ["returned"]

    outcome = []
    sender = sending("paused", outcome)
    until(lambda: len(rx) == 1)
    own_server.pause()
    try:
        time.sleep(2 * offer)  # (the offer expires meanwhile: the server's clock runs on)
    finally:
        own_server.resume()
    assert rx.recv_timeout(WAIT) == "paused"
    sender.join(WAIT)
    assert outcome == ["returned"]
    with pytest.raises(mpsc.Timeout):  # posted again, taken once
        rx.recv_timeout(0.5)

    outcome = []
    sender = sending("server gone", outcome)
    until(lambda: len(rx) == 1)
    own_server.kill()
    try:
        sender.join(WAIT)
        assert not sender.is_alive()
    finally:
        own_server.start()
    assert len(outcome) == 1 and isinstance(outcome[0], mpsc.redis.ConnectionError), outcome
    with pytest.raises(mpsc.Timeout):  # the offer expired: nobody gets the value
        rx.recv_timeout(1.0)
    tx.close()
    rx.close()


def test_a_rendezvous_send_async_cancelled_while_its_offer_waits_on_a_paused_server(
    own_server: RedisServer,
) -> None:
    """Review 2, findings 06 and 14: a cancelled ``send_async`` whose offer waits withdraws
    it; on a paused server the withdrawal waited for the server (then ConnectionError, and the
    offer stayed). Now it ends in CancelledError once the offer has expired (OFFER past its
    last extension at most), and the value is never received."""
    tx, rx = mpsc.redis.bounded(own_server.url, 0)
    offer = mpsc.redis._handles.OFFER
    grace = mpsc.redis._handles.GRACE

    async def main() -> None:
        task = asyncio.ensure_future(tx.send_async("v"))
        for _ in range(1000):  # until the offer is posted (bounded)
            if own_server.command("XLEN", tx.name) == 1:
                break
            await asyncio.sleep(0.01)
        own_server.pause()
        try:
            started = time.monotonic()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, WAIT)
            assert time.monotonic() - started < offer + grace + 0.5
        finally:
            own_server.resume()

    asyncio.run(main())
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(1.0)
    tx.close()
    rx.close()


def test_a_failed_send_of_a_handle_leaves_no_travel_lease(url: str) -> None:
    """Review 2, finding 04: pickling a handle gives its side a travel lease (TRAVEL = 30 s);
    when the send then failed (Full, Timeout, SendError...) or the value did not pickle, that
    lease stayed, and closing the side's only real handle did not disconnect it for 30 s."""
    tx, rx = mpsc.redis.bounded(url, 1)
    tx.send("fills it")
    for fails in (
        lambda ry: tx.try_send(("carrying", ry)),
        lambda ry: tx.send_timeout(("carrying", ry), 0.05),
        lambda ry: tx.send(("carrying", ry, lambda: "not picklable")),
    ):
        ty, ry = mpsc.redis.channel(url)
        with pytest.raises((mpsc.Full, mpsc.Timeout, TypeError)):
            fails(ry)
        ry.close()
        with pytest.raises(mpsc.SendError):  # at once: no travel lease keeps the side alive
            ty.send_timeout("anyone?", 1.0)
        ty.close()
    assert rx.recv_timeout(WAIT) == "fills it"
    for h in (tx, rx):
        h.close()


def test_named_channel_opens_existing(url: str) -> None:
    tx, rx = mpsc.redis.bounded(url, 5, "jobs-test")
    tx2, rx2 = mpsc.redis.bounded(url, 5, "jobs-test")
    assert tx.same_channel(tx2)
    tx2.send("via second")
    assert rx.recv_timeout(2) == "via second"
    with pytest.raises(ValueError, match="capacity"):
        mpsc.redis.bounded(url, 6, "jobs-test")
    for h in (tx, rx, tx2, rx2):
        h.close()


# -- processes, leases, delivery -------------------------------------------------------------


@pytest.mark.parametrize(("capacity", "n_cons"), [(None, 3), (None, 1), (16, 3), (0, 3)])
def test_conservation_processes(url: str, procs: Any, capacity: int | None, n_cons: int) -> None:
    """3 producer and ``n_cons`` consumer processes, 12,000 messages, every kind of capacity:
    each received exactly once; with one consumer, the messages of each producer in the order
    sent. (With several, a consumer that idles for IDLE gives back its fetched entries, which
    its peers receive after newer ones: as a dead receiver's, documented.)"""
    n_prod, per = 3, 4000
    tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    out_tx, out_rx = mpsc.redis.channel(url)
    producers = [procs.start(children.produce, tx, k, per) for k in range(n_prod)]
    consumers = [procs.start(children.consume, rx, out_tx) for _ in range(n_cons)]
    tx.close()
    rx.close()
    out_tx.close()
    results = [out_rx.recv_timeout(60) for _ in range(n_cons)]
    for p in producers + consumers:
        assert procs.join(p) == 0
    every = [v for got in results for v in got]
    assert len(every) == n_prod * per
    assert set(every) == {(k, i) for k in range(n_prod) for i in range(per)}
    for got in results if n_cons == 1 else []:
        for k in range(n_prod):
            mine = [i for tag, i in got if tag == k]
            assert mine == sorted(mine)
    out_rx.close()


def test_sigkilled_sender_disconnects_within_lease(url: str, procs: Any) -> None:
    tx, rx = mpsc.redis.channel(url, lease=0.8)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    child = procs.start(children.send_then_hang, tx, ready_tx, 5)
    tx.close()
    pid = ready_rx.recv_timeout(20)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    assert [rx.recv_timeout(10) for _ in range(5)] == list(range(5))
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(10)
    elapsed = time.monotonic() - killed
    assert elapsed < 0.8 * 1.25 + 0.5, elapsed
    procs.join(child)
    for h in (rx, ready_tx, ready_rx):
        h.close()


def test_default_lease_expires_under_two_seconds(url: str, procs: Any) -> None:
    tx, rx = mpsc.redis.channel(url)  # the default lease
    ready_tx, ready_rx = mpsc.redis.channel(url)
    child = procs.start(children.hold_then_hang, rx, ready_tx)
    rx.close()
    ready_rx.recv_timeout(20)
    child.kill()
    killed = time.monotonic()

    def send_until_refused() -> None:
        while time.monotonic() - killed < 5:
            tx.send("x")
            time.sleep(0.02)  # a sender's pace, not an ordering

    with pytest.raises(mpsc.SendError):
        send_until_refused()
    assert time.monotonic() - killed < 2.0
    procs.join(child)
    for h in (tx, ready_tx, ready_rx):
        h.close()


def test_sender_blocked_on_full_channel_sees_receiver_death(url: str, procs: Any) -> None:
    tx, rx = mpsc.redis.bounded(url, 1)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    child = procs.start(children.hold_then_hang, rx, ready_tx)
    rx.close()
    ready_rx.recv_timeout(20)
    tx.send(1)  # full now
    killer = threading.Timer(0.3, child.kill)
    killer.start()
    t0 = time.monotonic()
    with pytest.raises(mpsc.SendError) as info:
        tx.send(2)  # blocked until the receiver's lease runs out
    assert info.value.value == 2
    assert 0.25 < time.monotonic() - t0 < 0.3 + 2.0
    killer.join(5)
    procs.join(child)
    for h in (tx, ready_tx, ready_rx):
        h.close()


def test_sigkilled_receiver_loses_nothing(url: str, procs: Any) -> None:
    tx, rx = mpsc.redis.channel(url, lease=0.8)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    spare = rx.clone()
    child = procs.start(children.take_one_then_hang, rx, ready_tx)
    rx.close()
    tx.send_many(range(50))
    first = ready_rx.recv_timeout(20)  # the child fetched a batch (all 50) and returned one
    child.kill()
    tx.close()
    got = list(spare)  # drains, claiming the dead receiver's pending entries
    assert set(got) == set(range(50))
    duplicates = [v for v in got if got.count(v) > 1]
    assert set(duplicates) <= {first}  # only what the dead one had returned may come again
    procs.join(child)
    for h in (spare, ready_tx, ready_rx):
        h.close()


@pytest.mark.parametrize("capacity", [2, 0])
def test_a_bounded_receiver_killed_before_its_receive_returned_loses_nothing(
    url: str, server: RedisServer, procs: Any, capacity: int
) -> None:
    """Review 2, finding 05: a bounded (or rendezvous) receive acknowledged its entry before it
    returned, so a receiver killed in that round trip lost the value. The child stops at the
    receive's last step before returning and is SIGKILLed there after its lease was renewed at
    least once (a renewal acknowledges what was handed out, but not what is being handed out):
    the survivor gets the value."""
    tx, rx = mpsc.redis.bounded(url, capacity, lease=0.8)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    spare = rx.clone()
    child = procs.start(children.recv_parked_before_return, rx, ready_tx)
    rx.close()
    tx.send_timeout(42, WAIT)
    lease_id = ready_rx.recv_timeout(WAIT)  # the child took 42 and stopped before returning it

    def score() -> float:
        return float(server.command("ZSCORE", f"{{{rx.name}}}:mpsc:rx", lease_id) or 0)

    parked_at = score()
    until(lambda: score() > parked_at)  # its lease thread renewed it while it stood there
    child.kill()
    procs.join(child)
    assert spare.recv_timeout(WAIT) == 42  # claimed once the dead receiver's lease ended
    tx.close()
    with pytest.raises(mpsc.RecvError):
        spare.recv_timeout(WAIT)
    for h in (spare, ready_tx, ready_rx):
        h.close()


def test_the_room_a_bounded_receive_leaves_appears_without_another_receive(
    url: str, server: RedisServer
) -> None:
    """A bounded receive acknowledges after it returns: by the lease thread within
    ``ACK_DELAY`` and a round trip when no fetch of the receiver carries it first. A sender
    blocked on the full channel wakes well before a renewal (a quarter of this 10 s lease)
    would acknowledge it; ``len()`` here counts the entry gone as soon as the receive
    returned."""
    tx, rx = mpsc.redis.bounded(url, 1, lease=10.0)
    tx.send(1)
    started = threading.Event()
    sent_at: list[float] = []

    def blocked_send() -> None:
        started.set()
        tx.send_timeout(2, WAIT)
        sent_at.append(time.monotonic())

    sender = threading.Thread(target=blocked_send)
    sender.start()
    assert started.wait(WAIT)
    until(lambda: b"cmd=blpop" in server.command("CLIENT", "LIST"))  # the sender waits for room
    received_at = time.monotonic()
    assert rx.recv_timeout(WAIT) == 1
    sender.join(WAIT)
    assert sent_at and sent_at[0] - received_at < 1.0, sent_at
    assert rx.recv_timeout(WAIT) == 2
    assert len(rx) == 0 and not tx.is_full()
    tx.try_send(3)  # the room the receive left, seen by a send of the same process at once
    assert rx.recv_timeout(WAIT) == 3
    tx.try_send(4)
    for h in (tx, rx):
        h.close()


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def test_stopped_receiver_loses_its_lease_and_entries(url: str, procs: Any) -> None:
    """A receiver whose process is stopped (as if cut off) for longer than its lease is
    counted as gone: another receiver takes the entries it had fetched, and when it wakes it
    hands out none of them (LeaseExpiredError). (It stops itself right after receiving: idle,
    it would give its batch back within ``IDLE``.)"""
    tx, rx = mpsc.redis.channel(url, lease=0.5)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    go_tx, go_rx = mpsc.redis.channel(url)
    spare = rx.clone()
    child = procs.start(children.take_some_stop_then_try, rx, ready_tx, go_rx, 16)
    rx.close()
    tx.send_many(range(50))
    deadline = time.monotonic() + WAIT
    while not _stopped(child.pid):
        assert time.monotonic() < deadline, "the child did not stop"
        time.sleep(0.01)  # (polling the process's state: nothing to wait on)
    got: list[int] = []
    try:
        while len(set(got) - set(range(16))) < 34:  # what it held: claimed once its lease ran out
            got.append(spare.recv_timeout(5))
        if 15 not in got:  # (the one it returned last, not yet acknowledged, may come again)
            with contextlib.suppress(mpsc.Timeout):
                got.append(spare.recv_timeout(1))
    finally:
        os.kill(child.pid, signal.SIGCONT)
    first, held = ready_rx.recv_timeout(20)
    assert first == list(range(16))
    assert held > 0  # it did hold fetched entries when it stopped
    assert set(got) | set(first) == set(range(50))
    assert len(got) - len(set(got)) == 0
    assert len(got) in (34, 35)  # the one it had returned (not yet acknowledged) may come again
    go_tx.send("go")
    assert ready_rx.recv_timeout(20) == ("lost",)
    assert procs.join(child) == 0
    tx.close()
    with pytest.raises(mpsc.RecvError):
        spare.recv_timeout(5)
    for h in (spare, ready_tx, ready_rx, go_tx, go_rx):
        h.close()


def test_close_is_seen_within_a_round_trip(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    got: list[Any] = []

    def wait() -> None:
        try:
            rx.recv()
        except mpsc.RecvError as exc:
            got.append((exc, time.monotonic()))

    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)  # let it block in XREAD (nothing to order it by: it is the server's wait)
    closed = time.monotonic()
    tx.close()
    t.join(5)
    assert got and got[0][1] - closed < 0.3
    rx.close()


# -- the hot send path (SEND_FAST, rxu, kept connections) -----------------------------------


def rxu_of(server: RedisServer, tx: mpsc.redis.Sender[Any]) -> Any:
    return server.command("HGET", tx._lease.keys.all[0], "rxu")


def test_fast_send_relies_on_rxu_only_while_it_holds(url: str, server: RedisServer) -> None:
    """The first send goes through the full SEND ('slow': nothing known about receivers), which
    records rxu; a receiver's close removes it (it may have been that lease's expiry); a send
    after the last receiver's close fails at once."""
    tx, rx = mpsc.redis.channel(url)
    assert rxu_of(server, tx) is None
    tx.send(1)
    assert rxu_of(server, tx) is not None
    rx2 = rx.clone()
    rx.close()
    assert rxu_of(server, tx) is None
    tx.send(2)  # the full SEND again: rx2 is live
    assert rxu_of(server, tx) is not None
    assert rx2.recv() == 1 and rx2.recv() == 2
    rx2.close()
    with pytest.raises(mpsc.SendError) as caught:
        tx.send(3)
    assert caught.value.value == 3
    tx.close()


def test_fast_send_sees_a_silent_receivers_lease_expire(url: str) -> None:
    """A receiver whose lease is no longer renewed (its process stopped, unseen by anyone):
    sends keep succeeding until its lease has expired on the lease clock, then fail, with no
    other script storing the clock meanwhile than the sender's own renewals."""
    lease = 0.6
    tx, rx = mpsc.redis.channel(url, lease=lease)
    tx.send(0)
    from mpsc.redis._leases import renewer

    renewer.drop(rx._lease)  # as if its process stopped: nobody renews it any more
    stopped = time.monotonic()
    failed: mpsc.SendError | None = None
    while failed is None and time.monotonic() - stopped < 5:
        try:
            tx.send(1)
        except mpsc.SendError as exc:
            failed = exc
        time.sleep(0.005)
    assert failed is not None
    took = time.monotonic() - stopped
    assert 0.8 * lease < took < lease + 0.5, took
    tx.close()
    rx._lease.closed = True  # (its lease is gone on the server: nothing to release)


def test_sends_survive_a_script_flush(url: str, server: RedisServer) -> None:
    """The pre-encoded SEND_FAST call loads its script again when the server forgot it (a
    restart without persistence, SCRIPT FLUSH), sync and async."""
    tx, rx = mpsc.redis.channel(url)
    tx.send(1)
    server.command("SCRIPT", "FLUSH")
    tx.send(2)
    server.command("SCRIPT", "FLUSH")

    async def send_async() -> None:
        await tx.send_async(3)

    asyncio.run(send_async())
    tx.close()
    assert list(rx) == [1, 2, 3]
    rx.close()


def test_threads_keep_and_return_their_connections(url: str, server: RedisServer) -> None:
    """Each thread keeps the connection it sends on; a thread that ends gives it back to the
    pool, so threads one after another reuse one connection rather than opening one each."""
    tx, rx = mpsc.redis.channel(url)

    def clients() -> int:
        listed: bytes = server.command("CLIENT", "LIST")
        return len(listed.splitlines())

    def burst() -> None:
        for i in range(5):
            tx.send(i)

    burst()
    before = clients()
    for _ in range(20):
        t = threading.Thread(target=burst)
        t.start()
        t.join()
        gc.collect()  # (a thread's local slot goes at its end; collected here for sure)
    assert clients() <= before + 1
    tx.close()
    assert len(list(rx)) == 105
    rx.close()


@pytest.mark.stress
def test_conservation_soak(url: str, procs: Any) -> None:
    """4 producer and 4 consumer processes, 10^5 messages, a bounded channel."""
    n_prod, n_cons, per = 4, 4, 25_000
    tx, rx = mpsc.redis.bounded(url, 64)
    out_tx, out_rx = mpsc.redis.channel(url)
    kids = [procs.start(children.produce, tx, k, per) for k in range(n_prod)]
    kids += [procs.start(children.consume, rx, out_tx) for _ in range(n_cons)]
    tx.close()
    rx.close()
    out_tx.close()
    every = [v for _ in range(n_cons) for v in out_rx.recv_timeout(600)]
    for p in kids:
        assert procs.join(p, 600) == 0
    assert sorted(every) == [(k, i) for k in range(n_prod) for i in range(per)]
    out_rx.close()


# -- the server ------------------------------------------------------------------------------


def test_server_down_raises_connection_error() -> None:
    port = free_port()
    t0 = time.monotonic()
    with pytest.raises(mpsc.redis.ConnectionError) as info:
        mpsc.redis.channel(f"redis://127.0.0.1:{port}/0")
    assert isinstance(info.value, mpsc.ChannelError)
    assert time.monotonic() - t0 < mpsc.redis.RETRY_FOR + 1.5


def test_server_killed_midway_then_connection_error(own_server: RedisServer) -> None:
    tx, rx = mpsc.redis.channel(own_server.url)
    tx.send(1)
    own_server.kill()
    with pytest.raises(mpsc.redis.ConnectionError):
        tx.send(2)
    tx.close()  # no error: the lease would expire by itself
    rx.close()


_SERVER_OF_A_KILLED_RUN = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from redis_server import RedisServer
server = RedisServer(Path(sys.argv[2]), persist=False)
print(server.proc.pid, flush=True)
sys.stdin.read()
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped yet does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_tests_server_dies_with_a_killed_test_run(tmp_path: Path) -> None:
    """A test run ended by pytest-timeout (os._exit) or SIGKILL leaves no redis-server behind
    (tests/redis_server.py starts it with PR_SET_PDEATHSIG)."""
    run = subprocess.Popen(
        [sys.executable, "-c", _SERVER_OF_A_KILLED_RUN, os.path.dirname(__file__), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        server = int(run.stdout.readline())
        assert _running(server)
    finally:
        run.kill()
        run.wait(WAIT)
    until(lambda: not _running(server))


def test_server_restart_with_persistence(own_server: RedisServer) -> None:
    tx, rx = mpsc.redis.bounded(own_server.url, 100)
    tx.send_many(range(10))
    assert [rx.recv() for _ in range(3)] == [0, 1, 2]
    own_server.kill()  # SIGKILL: what it acknowledged is in its append-only file (fsync always)
    own_server.start()
    tx.send(10)  # scripts reloaded, leases kept (the lease clock skips the downtime)
    assert [rx.recv_timeout(5) for _ in range(8)] == list(range(3, 11))
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5)
    rx.close()


def test_server_paused_timeouts_fire_nothing_lost_or_duplicated(own_server: RedisServer) -> None:
    tx, rx = mpsc.redis.channel(own_server.url)
    tx.send("before")
    assert rx.recv() == "before"
    own_server.pause()
    try:
        t0 = time.monotonic()
        with pytest.raises(mpsc.Timeout):
            rx.recv_timeout(0.3)
        with pytest.raises(mpsc.Timeout) as info:
            tx.send_timeout("during", 0.3)
        assert info.value.value == "during"
        # (each call waits GRACE past its deadline for a script's reply that might be coming)
        assert time.monotonic() - t0 < 2 * (0.3 + mpsc.redis._handles.GRACE) + 0.5
        time.sleep(2.0)  # longer than a lease: nobody may expire for it
    finally:
        own_server.resume()
    tx.send("after")
    assert rx.recv_timeout(5) == "after"  # "during" was not enqueued: the send raised
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    assert not rx.is_disconnected()
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5)
    rx.close()


# -- pickling --------------------------------------------------------------------------------


def test_pickled_handle_carries_no_password(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path / "auth", password="s3cret-pw", persist=False)
    try:
        tx, rx = mpsc.redis.channel(srv.url)
        data = pickle.dumps(tx)
        assert b"s3cret-pw" not in data
        clone = pickle.loads(data)  # this process knows the full URL
        clone.send("ok")
        assert rx.recv_timeout(5) == "ok"
        tx2, rx2 = mpsc.redis.channel(srv.url, travel_secrets=True)
        assert b"s3cret-pw" in pickle.dumps(tx2)
        for h in (tx, rx, clone, tx2, rx2):
            h.close()
    finally:
        srv.kill()


def test_unpickling_without_the_password_says_how_to_give_it(tmp_path: Path) -> None:
    srv = RedisServer(tmp_path / "auth", password="s3cret-pw", persist=False)
    try:
        tx, rx = mpsc.redis.channel(srv.url)
        data = pickle.dumps(tx)
        from mpsc.redis import _link

        public = _link.public_url(srv.url)
        with _link._links_lock:  # as in a process that never saw the full URL
            del _link._credentials[public]
        with pytest.raises(mpsc.redis.ConnectionError, match="credentials"):
            pickle.loads(data)
        mpsc.redis.credentials(srv.url)
        clone = pickle.loads(data)
        clone.send(1)
        assert rx.recv_timeout(5) == 1
        for h in (tx, rx, clone):
            h.close()
    finally:
        srv.kill()


def test_collected_sender_releases_its_lease(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    tx.send(1)
    del tx
    gc.collect()
    assert rx.recv_timeout(5) == 1
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5)  # released by the lease thread, well before a lease would expire
    rx.close()


def test_handle_travels_inside_a_message(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    mail_tx, mail_rx = mpsc.redis.channel(url)
    mail_tx.send(tx)  # pickled: the Sender's own lease travels with it
    tx.close()  # the channel stays connected: the Sender in flight holds it
    assert not rx.is_disconnected()
    arrived = mail_rx.recv_timeout(5)
    assert isinstance(arrived, mpsc.redis.Sender)
    arrived.send("from afar")
    assert rx.recv_timeout(5) == "from afar"
    arrived.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5)
    for h in (rx, mail_tx, mail_rx):
        h.close()


def test_a_message_with_a_handle_of_an_unreachable_server_is_not_lost(
    url: str, own_server: RedisServer
) -> None:
    """Review 2, finding 03: a message carrying a handle of a channel on a server that cannot
    be reached was consumed while the receive raised ConnectionError ("nothing was taken"), and
    the adopt ignored the receive's bound (recv_timeout(0.2) took 3 s). Now the receive keeps
    its bound and the message stays, first in line, until the handle's server is back."""
    tx, rx = mpsc.redis.channel(url)
    ty, ry = mpsc.redis.channel(own_server.url)  # its Sender travels on the other server
    tx.send(("job", ty))
    tx.send("second")
    ty.close()  # the one in flight keeps the side alive
    own_server.kill()  # (persistence: the channel is there again after the restart)
    t0 = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.2)
    assert time.monotonic() - t0 < 0.2 + 0.5 + 0.5  # the fetch's and the adopt's GRACE
    t0 = time.monotonic()
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    assert time.monotonic() - t0 < 1.0
    t0 = time.monotonic()
    with pytest.raises(mpsc.redis.ConnectionError) as raised:
        asyncio.run(asyncio.wait_for(rx.recv_async(), WAIT))  # the loop blocks GRACE at most
    assert time.monotonic() - t0 < 1.5
    assert "credentials" not in str(raised.value)  # (the server is down: no hint about passwords)
    with pytest.raises(mpsc.redis.ConnectionError):
        rx.recv()  # untimed: after RETRY_FOR
    own_server.start()
    got = [rx.recv_timeout(WAIT), rx.recv_timeout(WAIT)]
    assert got[0][0] == "job" and got[1] == "second"
    arrived = got[0][1]
    arrived.send("through the handle")
    assert ry.recv_timeout(WAIT) == "through the handle"
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    for h in (tx, rx, arrived, ry):
        h.close()


# -- asyncio ---------------------------------------------------------------------------------


def test_async_send_recv_iteration_and_cancel(url: str) -> None:
    async def main() -> None:
        tx, rx = mpsc.redis.bounded(url, 10)
        waiting = asyncio.ensure_future(rx.recv_async())
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        async with tx:
            for i in range(20):
                await tx.send_async(i)
                if i == 9:
                    reader = asyncio.ensure_future(_collect(rx))
        assert await asyncio.wait_for(reader, 10) == list(range(20))
        with pytest.raises(mpsc.RecvError):
            rx.recv()  # allowed in the loop: it does not wait
        rx.close()
        tx2, rx2 = mpsc.redis.channel(url)
        with pytest.raises(RuntimeError, match="event loop"):
            rx2.recv()  # it would wait: that would freeze the loop
        for h in (tx2, rx2):
            h.close()

    async def _collect(rx: mpsc.redis.Receiver[int]) -> list[int]:
        return [v async for v in rx]

    asyncio.run(main())


# -- select, through a bridge ---------------------------------------------------------------


def test_select_over_a_bridge_thread_channel_and_timer(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    local_tx, local_rx = mpsc.channel()
    bridged = mpsc.redis.bridge(rx)
    with pytest.raises(mpsc.ClosedHandleError):
        rx.recv()  # moved into the bridge
    tx.send("remote")
    assert mpsc.select(bridged, local_rx, mpsc.after(5)) == (0, "remote")
    local_tx.send("local")
    assert mpsc.select(bridged, local_rx, mpsc.after(5)) == (1, "local")
    index, _ = mpsc.select(bridged, local_rx, mpsc.after(0.2))
    assert index == 2
    tx.send_many(range(20))
    assert [mpsc.select(bridged, timeout=5)[1] for _ in range(20)] == list(range(20))
    tx.close()
    with pytest.raises(mpsc.RecvError) as info:
        mpsc.select(local_rx, bridged, timeout=5)
    assert info.value.index == 1
    for h in (local_tx, local_rx, bridged):
        h.close()


def _refuse_to_unpickle(text: str) -> None:
    raise ValueError(text)


class FailsToUnpickle:
    """A value that pickles, and whose unpickling raises ValueError."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _refuse_to_unpickle, ("refused",)


def test_a_bridge_goes_on_past_a_message_that_fails_to_unpickle(url: str) -> None:
    """Review 2, finding 07: one message whose unpickling raised killed the bridge's thread,
    which closed the only Redis Receiver: the bridged Receiver said RecvError while the Sender
    lived, and the messages after were dropped. The bad message is consumed and reported (a
    RuntimeWarning), the others come through, and the channel stays connected."""
    tx, rx = mpsc.redis.channel(url)
    bridged = mpsc.redis.bridge(rx)
    tx.send(1)
    tx.send(FailsToUnpickle())
    tx.send_many([2, 3])
    with pytest.warns(RuntimeWarning, match="failed to unpickle"):  # (the bridge holds one at most)
        got = [bridged.recv_timeout(WAIT) for _ in range(3)]
    assert got == [1, 2, 3]
    assert not tx.is_disconnected()
    tx.close()
    with pytest.raises(mpsc.RecvError):
        bridged.recv_timeout(WAIT)
    bridged.close()


# -- native select ---------------------------------------------------------------------------


def test_select_mixes_redis_thread_process_channels_and_timers(url: str) -> None:
    import mpsc.process

    tx, rx = mpsc.redis.channel(url)
    local_tx, local_rx = mpsc.channel()
    proc_tx, proc_rx = mpsc.process.channel()
    tx.send("remote")
    assert mpsc.select(rx, local_rx, proc_rx, mpsc.after(5)) == (0, "remote")
    local_tx.send("local")
    assert mpsc.select(rx, local_rx, proc_rx, mpsc.after(5)) == (1, "local")
    proc_tx.send("process")
    assert mpsc.select(rx, local_rx, proc_rx, mpsc.after(5)) == (2, "process")
    t0 = time.monotonic()
    assert mpsc.select(rx, local_rx, mpsc.after(0.2))[0] == 2
    assert 0.18 <= time.monotonic() - t0 < 2.0
    with pytest.raises(mpsc.Empty):
        mpsc.select(rx, local_rx, block=False)
    with pytest.raises(mpsc.Timeout):
        mpsc.select(rx, timeout=0.1)
    # Woken by a send from another thread while it sleeps.
    later = threading.Timer(0.1, tx.send, ("woken",))
    later.start()
    assert mpsc.select(rx, local_rx, timeout=5) == (0, "woken")
    later.join()
    sel = mpsc.Select(local_rx, rx)
    tx.send_many(range(10))
    assert [sel.select(timeout=5) for _ in range(10)] == [(1, i) for i in range(10)]
    with pytest.raises(TypeError, match="pair"):
        mpsc.select(tx)  # a bare Sender
    with pytest.raises(TypeError, match="cannot send"):
        mpsc.select((rx, 1))
    tx.close()
    with pytest.raises(mpsc.RecvError) as info:
        mpsc.select(local_rx, rx, timeout=5)
    assert info.value.index == 1
    rx.close()
    with pytest.raises(mpsc.ClosedHandleError):
        mpsc.select(rx, timeout=1)
    for h in (local_tx, local_rx, proc_tx, proc_rx):
        h.close()


def test_select_is_fair_and_a_losing_ready_operation_is_not_consumed(url: str) -> None:
    """Three ready channels (two on Redis, one thread channel): each wins about a third of the
    selects, and what a select did not take stays in its channel (every value once)."""
    n = 60
    a_tx, a_rx = mpsc.redis.bounded(url, n)
    b_tx, b_rx = mpsc.redis.channel(url)
    c_tx, c_rx = mpsc.channel()
    a_tx.send_many(range(n))
    b_tx.send_many(range(n))
    for i in range(n):
        c_tx.send(i)
    won: list[list[int]] = [[], [], []]
    for _ in range(n):
        index, value = mpsc.select(a_rx, b_rx, c_rx, timeout=5)
        won[index].append(value)
    assert all(len(w) >= n // 8 for w in won), [len(w) for w in won]
    rest = [list(a_rx.try_iter()), list(b_rx.try_iter()), list(c_rx.try_iter())]
    for w, r in zip(won, rest, strict=True):
        assert w + r == list(range(n))  # each value once, in order
    for h in (a_tx, a_rx, b_tx, b_rx, c_tx, c_rx):
        h.close()


def test_select_sends_to_redis_bounded_and_rendezvous(url: str, server: RedisServer) -> None:
    local_tx, local_rx = mpsc.channel()
    tx, rx = mpsc.redis.bounded(url, 1)
    tx.send("first")
    with pytest.raises(mpsc.Empty):
        mpsc.select((tx, "second"), local_rx, block=False)  # full: nothing sent
    room = threading.Timer(0.1, rx.recv)
    room.start()
    assert mpsc.select((tx, "second"), local_rx, timeout=5) == (0, None)  # woken by the room
    room.join()
    assert rx.recv_timeout(5) == "second" and len(rx) == 0
    # Rendezvous: a select's send meets a receiver waiting in recv, a select's receive a sender
    # waiting in send.
    rv_tx, rv_rx = mpsc.redis.bounded(url, 0)
    got: list[Any] = []
    receiver = threading.Thread(target=lambda: got.append(rv_rx.recv_timeout(10)))
    receiver.start()
    assert mpsc.select((rv_tx, "to a waiting receiver"), local_rx, timeout=5) == (0, None)
    receiver.join(5)
    assert got == ["to a waiting receiver"]
    sender = threading.Thread(target=rv_tx.send_timeout, args=("from a waiting sender", 10))
    sender.start()
    assert mpsc.select(rv_rx, local_rx, timeout=5) == (0, "from a waiting sender")
    sender.join(5)
    with pytest.raises(mpsc.Timeout):
        mpsc.select((rv_tx, "nobody"), timeout=0.2)
    rv_rx.close()
    with pytest.raises(mpsc.SendError) as info:
        mpsc.select(local_rx, (rv_tx, "gone"), timeout=5)
    assert info.value.index == 1 and info.value.value == "gone"
    for h in (tx, rx, rv_tx, local_tx, local_rx):
        h.close()


def test_select_wakes_within_milliseconds(url: str) -> None:
    """The wake-up latency of a select sleeping on a Redis receiver: from the send's return to
    the select's (median of 20; loopback)."""
    tx, rx = mpsc.redis.channel(url)
    local_tx, local_rx = mpsc.channel()
    go_tx, go_rx = mpsc.channel()
    sent_tx, sent_rx = mpsc.channel()

    def sender() -> None:
        for i in go_rx:
            tx.send(i)
            sent_tx.send(time.monotonic())

    thread = threading.Thread(target=sender)
    thread.start()
    latencies = []
    for i in range(20):
        threading.Timer(0.02, go_tx.send, (i,)).start()  # after the select is asleep
        assert mpsc.select(rx, local_rx, timeout=5) == (0, i)
        woke = time.monotonic()
        latencies.append(woke - sent_rx.recv_timeout(5))
    go_tx.close()
    thread.join(5)
    latencies.sort()
    median = latencies[len(latencies) // 2]
    print(f"select wake-up latency: median {median * 1000:.2f} ms, max {latencies[-1] * 1000:.2f} ms")
    assert median < 0.1
    for h in (tx, rx, local_tx, local_rx, sent_tx, sent_rx):
        h.close()


def test_select_async_with_redis_and_cancellation(url: str) -> None:
    async def main() -> None:
        tx, rx = mpsc.redis.channel(url)
        local_tx, local_rx = mpsc.channel()
        tx.send("ready")
        assert await mpsc.select_async(rx, local_rx, timeout=5) == (0, "ready")
        waiting = asyncio.ensure_future(mpsc.select_async(rx, local_rx))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        tx.send("after")  # not taken by the cancelled select
        assert rx.recv_timeout(5) == "after"

        async def later() -> None:
            await asyncio.sleep(0.1)
            await tx.send_async("awaited")

        task = asyncio.ensure_future(later())
        assert await mpsc.select_async(rx, local_rx, timeout=5) == (0, "awaited")
        await task
        for h in (tx, rx, local_tx, local_rx):
            h.close()

    asyncio.run(main())


# -- async cancellation under load -----------------------------------------------------------


@pytest.mark.parametrize("capacity", [None, 4, 0])
def test_async_cancellation_under_load_counts_every_message(url: str, capacity: int | None) -> None:
    """Many send_async and recv_async tasks, cancelled at random moments while messages flow:
    every message whose send returned is received exactly once (no process dies), and no
    message whose send was cancelled is received."""
    import random

    n_senders, n_receivers, per = 6, 6, 100
    rng = random.Random(12)

    async def main() -> None:
        if capacity is None:
            tx, rx = mpsc.redis.channel(url)
        else:
            tx, rx = mpsc.redis.bounded(url, capacity)
        txs = [tx.clone() for _ in range(n_senders)]
        rxs = [rx.clone() for _ in range(n_receivers)]
        sent: list[tuple[int, int]] = []
        received: list[tuple[int, int]] = []
        cancelled_sends: list[tuple[int, int]] = []
        cancelled_recvs = 0

        async def send_all(k: int) -> None:
            for i in range(per):
                while True:
                    task = asyncio.ensure_future(txs[k].send_async((k, i)))
                    await asyncio.sleep(rng.random() * 0.004)
                    task.cancel()
                    try:
                        await task
                    except asyncio.CancelledError:
                        if task.cancelled():  # not sent: send it again (a new attempt)
                            cancelled_sends.append((k, i))
                            continue
                    sent.append((k, i))
                    break
            txs[k].close()

        async def recv_all(r: int) -> None:
            nonlocal cancelled_recvs
            while True:
                task = asyncio.ensure_future(rxs[r].recv_async())
                await asyncio.sleep(rng.random() * 0.004)
                task.cancel()
                try:
                    received.append(await task)
                except asyncio.CancelledError:
                    if not task.cancelled():  # it completed: the value is its result
                        received.append(task.result())
                    else:
                        cancelled_recvs += 1
                except mpsc.RecvError:
                    rxs[r].close()
                    return

        tx.close()
        await asyncio.wait_for(
            asyncio.gather(
                *(send_all(k) for k in range(n_senders)), *(recv_all(r) for r in range(n_receivers))
            ),
            60,
        )
        rx.close()
        assert sorted(sent) == [(k, i) for k in range(n_senders) for i in range(per)]
        assert sorted(received) == sorted(sent)  # each once: none lost, none duplicated
        print(f"capacity {capacity}: {len(cancelled_sends)} sends and {cancelled_recvs} receives cancelled")
        assert cancelled_recvs > 0

    asyncio.run(main())


# -- hygiene ---------------------------------------------------------------------------------


def test_keys_deleted_when_both_sides_close(url: str, server: RedisServer) -> None:
    tx, rx = mpsc.redis.channel(url, "hygiene-a")
    tx.send(1)
    assert keys_of(server, "hygiene-a")
    tx.close()
    assert rx.recv() == 1
    rx.close()
    assert keys_of(server, "hygiene-a") == []


def test_acknowledged_entries_leave_the_stream_and_pending_ones_stay(url: str, server: RedisServer) -> None:
    """Acknowledged entries are taken out of the stream (a trim from its head up to the first
    entry still pending, the others one by one): what another receiver holds pending stays,
    and the stream's length is exactly what is pending or unread."""
    tx, rx = mpsc.redis.channel(url, lease=10.0)  # (its renewals would acknowledge rx's entry)
    other = rx.clone()
    stream = rx.name
    tx.send_many(range(20))
    assert rx.recv_timeout(WAIT) == 0  # rx fetched one entry (after a pause) and handed it out
    got = [other.recv_timeout(WAIT) for _ in range(19)]
    assert got == list(range(1, 20))
    with pytest.raises(mpsc.Empty):
        other.try_recv()  # (its fetch acknowledges what it handed out)
    assert int(server.command("XLEN", stream)) == 1  # rx's entry, before all the others
    pending = server.command("XPENDING", stream, "rx")
    assert pending["pending"] == 1
    tx.send_many(range(20, 25))
    assert [other.recv_timeout(WAIT) for _ in range(5)] == list(range(20, 25))
    with pytest.raises(mpsc.Empty):
        other.try_recv()
    assert int(server.command("XLEN", stream)) == 1
    rx.close()  # acknowledges its entry: nothing is left
    assert int(server.command("XLEN", stream)) == 0
    for h in (tx, other):
        h.close()


def test_the_rest_of_a_reply_cut_by_size_goes_to_the_peers_of_an_idle_receiver(url: str) -> None:
    """Review 3, finding 06: the entries a fetch's reply was cut off from (about 4 MB) stayed
    pending under the receiver, re-read only by its own next receive: while it idled (working
    on what it got) its peers never got them, nor RecvError. They are given back too."""
    tx, r1 = mpsc.redis.channel(url)
    r2 = r1.clone()
    big = b"x" * (3 * 1024 * 1024)
    for i in range(8):
        tx.send((i, big))
    got1 = [r1.recv_timeout(WAIT)[0] for _ in range(5)]
    tx.close()
    got2 = [v[0] for v in recv_all(r2)]  # (r1 idles meanwhile)
    assert sorted(got1 + got2) == list(range(8)), (got1, got2)
    for h in (r1, r2):
        h.close()


def test_a_batch_whose_give_back_met_a_paused_server_is_given_back_later(own_server: RedisServer) -> None:
    """Review 3, finding 08: a give-back the server did not answer within GRACE (paused) left
    the idle receiver's batch pending under it for good. It is tried again."""
    tx, r1 = mpsc.redis.channel(own_server.url)
    r2 = r1.clone()
    tx.send_many(range(20))
    got1 = [r1.recv_timeout(WAIT) for _ in range(4)]  # (its fetches grow: it buffers the rest)
    assert r1._buf
    own_server.pause()
    try:
        until(lambda: not r1._buf)  # the lease thread's give-back, cut off by the pause
        # (Paused past the give-back's late instant, on the server's clock: then it does nothing.)
        time.sleep(0.8)
    finally:
        own_server.resume()
    tx.close()
    got2 = recv_all(r2)
    assert sorted(got1 + got2) == list(range(20)), (got1, got2)
    for h in (r1, r2):
        h.close()


@pytest.mark.parametrize("capacity", [None, 1])
def test_a_fetch_cut_short_by_an_interrupt_is_given_back_while_its_receiver_idles(
    url: str, capacity: int | None
) -> None:
    """Review 3, finding 03: a receive interrupted (Ctrl-C) after its fetch reached the server
    and before the reply was buffered left the entry pending under its handle, re-read only by
    its own next receive: while it stayed open and idle, its peers never got it (a bounded
    channel stayed full, no RecvError came). At every such check point, the peer gets it."""
    from checkpoints import NOT_RETURNED, SignalInjector

    tx, r1 = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    r2 = r1.clone()
    cases = 0
    for n in range(1, 1000):
        tx.send(("v", n))
        injector = SignalInjector(n, 10**9)
        result, _ = quietly(injector, lambda: r1.recv_timeout(5.0))
        if not injector.fired:
            break
        if result is NOT_RETURNED and not r1._buf:  # (the entry is pending under r1, or still queued)
            cases += 1
            assert r2.recv_timeout(WAIT) == ("v", n), (n, injector.where)  # (r1 idles)
        elif result is NOT_RETURNED:
            assert r1.recv_timeout(WAIT) == ("v", n)
    assert cases > 10, cases
    tx.close()
    with pytest.raises(mpsc.RecvError):
        r2.recv_timeout(WAIT)
    for h in (r1, r2):
        h.close()


def test_a_rendezvous_receive_cut_short_after_announcing_itself_takes_the_announcement_back(
    url: str, server: RedisServer
) -> None:
    """Review 3, finding 04: a rendezvous receive interrupted between its announcing fetch and
    its wait stayed announced (up to a lease and a half): ``try_send`` then succeeded with
    nobody in ``recv``, and the value sat under the idle receiver. The lease thread now takes
    the announcement back at once (a value handed meanwhile goes to the peers)."""
    from checkpoints import SignalInjector

    tx, r1 = mpsc.redis.bounded(url, 0, lease=10.0)
    r2 = r1.clone()
    points = 0
    for n in range(1, 1000):
        injector = SignalInjector(n, 10**9)
        quietly(injector, lambda: r1.recv_timeout(0.02))
        if not injector.fired:
            break
        points += 1
        # (at a few points, the announcement is there now: gone within a second, not ten)
        until(lambda: waiting_receivers(server, r1.name) == 0, 1.0)
    assert points > 100, points  # (the announcing fetch, the wait, and the last look)
    with pytest.raises(mpsc.Full):
        tx.try_send("nobody waits")
    tx.close()
    with pytest.raises(mpsc.RecvError):
        r2.recv_timeout(WAIT)
    for h in (r1, r2):
        h.close()


def test_keys_of_abandoned_channel_expire(url: str, server: RedisServer, procs: Any) -> None:
    tx, rx = mpsc.redis.channel(url, "hygiene-b", lease=0.5)
    ready_tx, ready_rx = mpsc.redis.channel(url)
    child = procs.start(children.hold_then_hang, rx, ready_tx)
    rx.close()
    ready_rx.recv_timeout(20)
    child.kill()
    procs.join(child)
    deadline = time.monotonic() + 5
    while not tx.is_disconnected():  # the dead receiver's lease runs out
        assert time.monotonic() < deadline
        time.sleep(0.05)
    found = keys_of(server, "hygiene-b")
    assert found  # the sender still holds the channel
    for key in found:
        ttl = server.command("PTTL", key)
        # Every key expires if the sender dies too: an hour after the last renewal (or after
        # the pickled receiver's travel lease, and an hour more), and no sooner (a server
        # paused or restarting counts the TTL down: review 2, finding 13).
        assert 3500 * 1000 < ttl <= (mpsc.redis.TRAVEL + 3600) * 1000, (key, ttl)
    tx.close()
    assert keys_of(server, "hygiene-b") == []  # both sides gone: deleted at once
    for h in (ready_tx, ready_rx):
        h.close()


# -- hostile review (findings/redis) ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "Exception"])
@pytest.mark.parametrize(("capacity", "buffered"), [(None, False), (4, False), (None, True)])
def test_an_interrupt_anywhere_in_a_receive_loses_no_value(
    url: str, capacity: int | None, buffered: bool, kind: str
) -> None:
    """Hostile review finding 04: a KeyboardInterrupt during ``recv`` lost the value it had taken
    (bounded: anywhere in the ACK round trip; unbounded: after the pop, or a fetched batch hidden
    under the live receiver). At every check point of a receive (the fetch, the hand-out, the
    ACK, redis-py's I/O): either the call raised the interrupt and took nothing, or it returned
    the value (the interrupt raised right after); the value is received exactly once, and after
    the last Sender goes the receiver gets RecvError (nothing left hidden under it).
    ``buffered``: the value is already fetched (the second of a batch of two): the hot path
    that hands it out without a round trip. ``kind``: what lands, a KeyboardInterrupt or an
    ``Exception`` a signal handler raised (which mpsc must not take for the value's own
    unpickling error, nor redis-py for an I/O error)."""
    from checkpoints import NOT_RETURNED, Injected, InjectedError, SignalInjector, every_point

    landing: Any = Injected if kind == "KeyboardInterrupt" else InjectedError

    tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    returned = raised = 0
    hot = 0

    def scene(n: int) -> bool:
        nonlocal returned, raised, hot
        if buffered:
            tx.send_many([-1, -2, n])
            assert [rx.recv_timeout(5.0), rx.recv_timeout(5.0)] == [-1, -2]  # (fetches 1, then 2)
            hot += len(rx._buf) == 1  # (unless the lease thread gave it back: idle 10 ms)
        else:
            tx.send(n)
        injector = SignalInjector(n, 10**9, landing)
        result, exc = quietly(injector, lambda: rx.recv_timeout(5.0))
        assert exc is None or isinstance(exc, landing), (n, injector.where, exc)
        got = ([] if result is NOT_RETURNED else [result]) + drained(rx)
        assert got == [n], (n, injector.where, result, got)
        # The receive let its lock go (the lease thread may hold it now, giving back: _GIVING).
        assert getattr(rx, "_owner", None) in (None, _GIVING), (n, injector.where)
        returned += result is not NOT_RETURNED and exc is not None
        raised += result is NOT_RETURNED
        return injector.fired

    points = every_point(scene)
    assert points > (15 if buffered else 50) and returned > 0 and raised > 5, (points, returned, raised)
    assert not buffered or hot > points // 2, (hot, points)
    tx.close()
    assert drained(rx) == []
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5.0)
    rx.close()


def test_interrupts_in_a_receive_storm_lose_nothing(url: str) -> None:
    """Finding 04 with real signals: SIGALRM every 0.3-0.7 ms raising KeyboardInterrupt while
    the main thread receives (retrying after each): every value arrives exactly once, then
    RecvError. (An unbounded fetch cut short is re-read by a smaller one: no livelock.)"""
    import random

    for capacity in (None, 4):
        tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
        n = 200

        def produce(tx: Any = tx) -> None:
            with tx:
                for i in range(n):
                    tx.send(i)

        got: list[int] = []
        armed = [False]
        interrupts = [0]

        def handler(signum: int, frame: object) -> None:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0003, 0.0007))
            if armed[0]:
                armed[0] = False
                interrupts[0] += 1
                raise KeyboardInterrupt

        producer = threading.Thread(target=produce)
        producer.start()
        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, 0.0005)
        ended = False
        stop_at = time.monotonic() + 20
        try:
            while not ended and time.monotonic() < stop_at:
                try:
                    while True:  # (the interrupt after a returned value lands at the back edge)
                        armed[0] = True
                        value = rx.recv_timeout(5.0)
                        armed[0] = False
                        got.append(value)
                except KeyboardInterrupt:
                    pass
                except mpsc.RecvError:
                    ended = True
        finally:
            armed[0] = False
            # (ignored first: a handler still pending would re-arm the timer, and SIGALRM's
            # default action ends the process)
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        producer.join(10)
        rx.close()
        assert ended, capacity
        assert sorted(got) == list(range(n)), (capacity, len(got), interrupts)
        assert interrupts[0] > 0, interrupts  # (typically tens to hundreds)


@pytest.mark.parametrize("capacity", [None, 4])
def test_two_interrupts_in_a_receive_lose_no_value(url: str, capacity: int | None) -> None:
    """Finding 04, a double Ctrl-C: a second interrupt landing while the first is handled (a
    sample of the pairs of check points: every third first point, a few distances)."""
    from checkpoints import NOT_RETURNED, Injected, SignalInjector

    tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    pairs = 0
    for n in range(1, 5000, 3):
        fired = 0
        for m in (1, 2, 5, 17, 60):
            tx.send((n, m))
            injector = SignalInjector(n, m)
            result, exc = quietly(injector, lambda: rx.recv_timeout(5.0))
            assert exc is None or isinstance(exc, Injected), (n, m, injector.where, exc)
            got = ([] if result is NOT_RETURNED else [result]) + drained(rx)
            assert got == [(n, m)], (n, m, injector.where, result, got)
            assert getattr(rx, "_owner", None) in (None, _GIVING), (n, m, injector.where)
            fired = len(injector.raised)
            if fired < 2:
                break
            pairs += 1
        if fired == 0:
            break
    assert pairs > 50, pairs
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5.0)
    rx.close()


def test_send_timeout_that_raised_did_not_enqueue(url: str) -> None:
    """Finding 02: ``send_timeout(v, 0)`` raised Timeout although the value was enqueued (the
    server's ``late`` check lagged the client's give-up). Now a script's reply is awaited GRACE
    past the deadline and the script does nothing after the give-up minus GRACE / 2: a Timeout
    means not enqueued, and ``send_timeout(v, 0)`` succeeds while there is room (finding 03)."""
    raised: list[int] = []
    rxs = []
    n = 0
    for db in range(4):  # (several links: each its own clock estimate)
        base = url.rsplit("/", 1)[0]
        tx, rx = mpsc.redis.channel(f"{base}/{db}")
        rxs.append(rx)
        for _ in range(100):
            try:
                tx.send_timeout(n, 0)
            except mpsc.Timeout as exc:
                raised.append(exc.value)
            n += 1
        tx.close()
    got = [v for rx in rxs for v in drained(rx)]
    for rx in rxs:
        rx.close()
    assert not set(raised) & set(got)
    assert sorted(got + raised) == list(range(n))
    assert len(raised) < n // 10, len(raised)  # (room was always there)
    # A bounded channel that is full: Timeout, not enqueued.
    tx, rx = mpsc.redis.bounded(url, 1)
    tx.send("a")
    with pytest.raises(mpsc.Timeout) as info:
        tx.send_timeout("b", 0)
    assert info.value.value == "b"
    assert rx.recv() == "a"
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    tx.close()
    rx.close()


def test_an_idle_receiver_gives_back_its_prefetched_batch(url: str) -> None:
    """Review 2, finding 08: on an unbounded channel a receiver's fetch took up to BATCH
    entries, and while it did not receive again (busy with one job) the other receivers got
    nothing. Now a receiver idle for IDLE gives back what it fetched and did not hand out, and
    a fetch after a pause starts with one entry."""
    tx, first = mpsc.redis.channel(url)
    other = first.clone()
    tx.send_many(range(50))
    held = [first.recv_timeout(WAIT) for _ in range(16)]  # fetches of 1, 2, 4, 8, then 16
    assert held == list(range(16))
    assert len(first._buf) > 0  # it holds a batch, and now works on job 15 for a while
    t0 = time.monotonic()
    got = [other.recv_timeout(WAIT) for _ in range(34)]
    # (each exactly once; the given-back ones may come after newer ones, as a dead receiver's)
    assert sorted(got) == list(range(16, 50))
    assert time.monotonic() - t0 < 1.0  # (not by the end of a lease: the first one is alive)
    tx.close()
    with pytest.raises(mpsc.RecvError):
        other.recv_timeout(WAIT)
    with pytest.raises(mpsc.RecvError):
        first.recv_timeout(WAIT)
    # Alone, it gets back what it gave back, in order.
    tx, rx = mpsc.redis.channel(url)
    tx.send_many(range(40))
    assert [rx.recv_timeout(WAIT) for _ in range(16)] == list(range(16))
    deadline = time.monotonic() + WAIT
    while rx._buf:  # (given back by the lease thread after IDLE)
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert [rx.recv_timeout(WAIT) for _ in range(24)] == list(range(16, 40))
    tx.close()
    rx.close()
    # A receiver that was waiting takes one entry, not all: the rest stay for its peers.
    tx, first = mpsc.redis.channel(url)
    other = first.clone()
    tx.send_many(range(10))
    assert first.recv_timeout(WAIT) == 0
    assert other.try_recv() == 1
    assert len(first._buf) == 0
    for h in (tx, first, other):
        h.close()


def test_try_recv_waits_for_a_give_back(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the lease thread gives back an idle receiver's entries it holds the handle's
    receive lock: a try_recv then waits for it (GRACE at most) instead of saying Empty."""
    from mpsc.redis import _handles, _link

    armed, giving, go_on = threading.Event(), threading.Event(), threading.Event()
    call = _link.Link.call

    def slow_give(self: Any, build: Any, deadline: Any, extra: float = 0.0, size: int = 0) -> Any:
        command = build(time.monotonic(), 0)
        if armed.is_set() and isinstance(command, list) and command[1] == _handles._GIVE.sha:
            giving.set()
            go_on.wait(WAIT)
        return call(self, build, deadline, extra, size)

    monkeypatch.setattr(_link.Link, "call", slow_give)
    _try_recv_during_a_give_back(url, lambda rx: None, armed, giving, go_on)


def _try_recv_during_a_give_back(
    url: str,
    arm: Callable[[Any], None],
    armed: threading.Event,
    held: threading.Event,
    go_on: threading.Event,
    timed: bool = True,
) -> None:
    """40 values sent, received until the handle holds fetched entries; then ``arm(rx)`` and
    ``armed``: the lease thread's give-back (after IDLE) sets ``held`` and waits for ``go_on``
    (set 0.1 s later, if ``timed``) at the point under test. A try_recv meanwhile, then the
    rest: each value once, in order."""
    tx, rx = mpsc.redis.channel(url)
    tx.send_many(range(40))
    got = [rx.recv_timeout(WAIT)]
    while not rx._buf:  # until it holds fetched entries (its fetches grow: 1, 2, 4, ...)
        got.append(rx.recv_timeout(WAIT))
    arm(rx)
    armed.set()
    assert held.wait(WAIT)
    timer = threading.Timer(0.1 if timed else WAIT, go_on.set)  # (a try_recv that waits waits here)
    timer.start()
    got.append(rx.try_recv())
    got += [rx.recv_timeout(WAIT) for _ in range(40 - len(got))]
    assert got == list(range(40))
    timer.cancel()
    timer.join(WAIT)
    tx.close()
    rx.close()


def test_try_recv_sees_a_give_back_from_the_instant_it_holds_the_lock(url: str) -> None:
    """CI on the free-threaded build: between the lease thread taking the receive lock and
    marking itself its owner (_GIVING), a try_recv saw the lock taken by nobody in particular
    and said Empty though a value was there. Paused right in that gap here."""
    armed, paused, go_on = threading.Event(), threading.Event(), threading.Event()
    me = threading.current_thread()

    class PausingLock:
        """The receive lock, pausing the lease thread just after it took it."""

        def __init__(self, real: Any) -> None:
            self.real = real

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            got: bool = self.real.acquire(blocking, timeout)
            if got and armed.is_set() and threading.current_thread() is not me and not paused.is_set():
                paused.set()
                go_on.wait(WAIT)
            return got

        def release(self) -> None:
            self.real.release()

    def arm(rx: Any) -> None:
        rx._lock = PausingLock(rx._lock)

    _try_recv_during_a_give_back(url, arm, armed, paused, go_on)


def test_try_recv_that_met_a_give_back_ending_tries_again(url: str) -> None:
    """Review 4, finding 02 (3.13t): a try_recv's attempt failed while the lease thread held the
    receive lock, the give-back ended, and the try_recv, finding no owner, said Empty with the
    values there. Ordered here: the lease thread pauses holding the lock until the try_recv's
    attempt failed, and the attempt returns once the lock was let go."""
    armed, paused, go_on, released = (threading.Event() for _ in range(4))
    me = threading.current_thread()

    class OrderingLock:
        def __init__(self, real: Any) -> None:
            self.real = real

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            got: bool = self.real.acquire(blocking, timeout)
            if not armed.is_set():
                return got
            if threading.current_thread() is not me and got and not paused.is_set():
                paused.set()
                go_on.wait(WAIT)  # (until the try_recv's attempt failed)
            elif threading.current_thread() is me and not got and not go_on.is_set():
                go_on.set()
                released.wait(WAIT)  # (until the give-back ended)
            return got

        def release(self) -> None:
            self.real.release()
            if threading.current_thread() is not me:
                released.set()

    def arm(rx: Any) -> None:
        rx._lock = OrderingLock(rx._lock)

    _try_recv_during_a_give_back(url, arm, armed, paused, go_on, timed=False)


def test_a_re_read_stopped_by_size_leaves_nothing_pending_for_good(url: str) -> None:
    """Review 4, finding 01: a re-read of a receiver's own pending entries stops after about
    4 MB of payloads; its reply, one entry, said nothing of those behind it, and they stayed
    pending under that receiver for good (no re-read, no give-back, no RecvError). Here rx2
    takes back, at once, the large entries rx1 gave back (a claim copies several whatever
    their size), and re-reads them one at a time."""
    tx, rx1 = mpsc.redis.channel(url)
    rx2, rx3 = rx1.clone(), rx1.clone()
    big = 5 * 1024 * 1024
    small = [("s", i) for i in range(10)]
    large = [("L", i, b"x" * big) for i in range(4)]
    tx.send_many(small)
    for value in large:
        tx.send(value)
    got = [rx1.recv_timeout(WAIT)[:2] for _ in range(8)]  # (rx1's fetches grow to 16)
    until(lambda: not rx1._holds())  # idle: its lease thread gave back the rest
    tx.close()
    for rx in (rx2, rx3):
        got += [value[:2] for value in recv_all(rx)]
    assert sorted(got) == sorted(value[:2] for value in small + large)
    for rx in (rx1, rx2, rx3):
        rx.close()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # (fork in a process with threads)
def test_a_child_forked_while_a_lease_lock_was_held_closes_its_inherited_handles(url: str) -> None:
    """Review 4, finding 04: a thread of the parent held a lease's ``acks_lock`` (a receive
    handing out) at the fork; the child's ``close()`` of the inherited handle waited on the
    copy for good. (The holder here is the forking thread itself: the same copy.)"""
    tx, rx = mpsc.redis.channel(url)
    lease = rx._lease
    with lease.acks_lock:
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child)
            signal.alarm(5)  # (a hang ends the child: exit by SIGALRM, not 0)
            rx.close()
            tx.close()
            os._exit(0)
    deadline = time.monotonic() + WAIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.01)  # (polling the child's exit; nothing to order)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert done and os.waitstatus_to_exitcode(status) == 0, status
    tx.send(1)  # the parent's handles work on
    assert rx.recv_timeout(WAIT) == 1
    tx.close()
    rx.close()


def test_a_fetch_whose_reply_never_came_may_run_late_and_withholds_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review 4, finding 05: a fetch interrupted after it was sent may run on the server after
    the next fetch (another connection: nothing orders them). The next one found the channel
    empty and cleared ``_orphans``; the late one then took a value into the receiver's pending
    entries, where nothing ever looked again. Played here: the first fetch is built and not
    sent (Ctrl-C), the next runs, a value is sent, then the first runs."""
    from mpsc.redis import _handles, _link

    tx, rx1 = mpsc.redis.channel(url)
    rx2 = rx1.clone()
    call = _link.Link.call
    held: list[Any] = []

    def interrupted(self: Any, build: Any, deadline: Any, extra: float = 0.0, size: int = 0) -> Any:
        if not held:
            command = build(time.monotonic() + 2.0, 0)
            if isinstance(command, _link.Packed) and command.script is _handles._RECV:
                held.append(command)
                raise KeyboardInterrupt  # (sent, and its reply never read)
        return call(self, build, deadline, extra, size)

    monkeypatch.setattr(_link.Link, "call", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rx1.try_recv()
    with pytest.raises(mpsc.Empty):
        rx1.try_recv()  # (the next fetch: nothing there)
    tx.send(42)
    reply = rx1._chan.link.call(lambda give_up, attempt: held[0], time.monotonic() + WAIT)
    assert reply[1] == b"ok"  # the first fetch, late: 42 is pending under rx1 now
    assert rx2.recv_timeout(WAIT) == 42  # (rx1 idles: it gives 42 back)
    for handle in (tx, rx1, rx2):
        handle.close()


def test_a_fetch_that_reaches_the_server_late_does_nothing(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch does nothing once its ``late`` passed on the server's clock (so that one whose
    reply never came is known not to run after it): forced late here, try_recv and
    recv_timeout find nothing, and the value is still there for the next receive."""
    from mpsc.redis import _link

    tx, rx = mpsc.redis.channel(url)
    tx.send(7)
    call = _link.Link.call

    def late(self: Any, build: Any, deadline: Any, extra: float = 0.0, size: int = 0) -> Any:
        past = time.monotonic() - 1.0
        return call(self, lambda give_up, attempt: build(past, attempt), deadline, extra, size)

    monkeypatch.setattr(_link.Link, "call", late)
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.05)
    monkeypatch.undo()
    assert rx.recv_timeout(WAIT) == 7
    tx.close()
    rx.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # (the stale task)
def test_a_rendezvous_receive_whose_loop_closed_is_no_longer_announced(url: str) -> None:
    """Review 4, finding 03: a rendezvous ``recv_async`` whose event loop was closed while it
    waited stayed announced: senders handed it values nobody would receive. Its lease thread
    takes the announcement back (taking over the receive, as the next receive would)."""
    tx, rx1 = mpsc.redis.bounded(url, 0)
    rx2 = rx1.clone()
    loop = asyncio.new_event_loop()
    task = loop.create_task(rx1.recv_async())  # (kept: a framework's task list would)
    deadline = time.monotonic() + WAIT
    while not rx1._announced and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.01))
    assert rx1._announced
    loop.close()
    until(lambda: not rx1._announced)  # (after IDLE)
    with pytest.raises(mpsc.Full):
        tx.try_send("a")  # nobody waits
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(rx2.recv_timeout(WAIT)))
    waiter.start()
    until(lambda: rx2._announced)
    tx.send_timeout("b", WAIT)
    waiter.join(WAIT)
    assert got == ["b"]
    assert not task.done()
    for handle in (tx, rx1, rx2):
        handle.close()


@pytest.mark.parametrize("how", ["try_recv", "recv_timeout(0)", "select"])
def test_a_fetch_answered_within_grace_after_a_pause_takes_the_value(
    own_server: RedisServer, how: str
) -> None:
    """Review 5, finding 01: a fetch's ``late`` was its give-up less GRACE/2, so a server paused
    0.35 s (less than GRACE) answered a try_recv 'late' and it said Empty with a value there.
    The late is the give-up now: a fetch answered within GRACE takes the value (a select's
    first look too: finding 02)."""
    tx, rx = mpsc.redis.channel(own_server.url, lease=5.0)
    tx.send("warm")
    assert rx.recv_timeout(WAIT) == "warm"  # (the link knows the server's clock)
    tx.send("v")
    until(lambda: not rx._holds())
    own_server.pause()
    timer = threading.Timer(0.35, own_server.resume)
    timer.start()
    start = time.monotonic()
    try:
        if how == "try_recv":
            got = rx.try_recv()
        elif how == "recv_timeout(0)":
            got = rx.recv_timeout(0)
        else:
            _, got = mpsc.select(rx, timeout=WAIT)
    finally:
        timer.join(WAIT)
    assert got == "v"
    # (select: its first look said Empty 'late' and it waited for values sent after it, for
    # a lease and more: the value is there once the server answers, and so is the select)
    assert time.monotonic() - start < 2.5, time.monotonic() - start
    tx.close()
    rx.close()


@pytest.mark.parametrize("capacity", [None, 4])
def test_a_receiver_that_fetched_only_new_entries_holds_nothing_back(url: str, capacity: int | None) -> None:
    """A fetch of new entries that came back full left nothing else pending under the receiver:
    once it handed them all out it holds nothing (a bounded receive fetches one at a time, and
    each made the lease thread give back, under the receive lock, every idle period)."""
    tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    for i in range(3):
        tx.send(i)
    got = []
    for _ in range(3):
        got.append(rx.recv_timeout(WAIT))
        if not rx._buf:
            assert not rx._holds(), got
    assert got == [0, 1, 2]
    tx.close()
    rx.close()


def test_recv_timeout_zero_takes_what_is_there_and_hides_nothing(url: str) -> None:
    """Finding 03: ``recv_timeout(0)`` never returned a message (it gave up before the reply),
    while its fetch took entries pending under the idle handle: other receivers then never got
    them nor RecvError. Now a fetch's reply is read (GRACE past the deadline)."""
    tx, rx = mpsc.redis.channel(url)
    for i in range(3):
        tx.send(i)
    for i in range(3):
        fresh = rx.clone()  # nothing prefetched
        assert fresh.recv_timeout(0) == i
        fresh.close()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0)
    tx.close()
    rx.close()
    # A receiver that received once and then sits idle hides nothing (bounded: one entry per
    # fetch; an unbounded one holds the rest of its batch until its next receive or close).
    tx, a = mpsc.redis.bounded(url, 4)
    b = a.clone()
    for i in range(3):
        tx.send(i)
    assert a.recv_timeout(0) == 0
    tx.close()
    assert [b.recv_timeout(5.0) for _ in range(2)] == [1, 2]
    with pytest.raises(mpsc.RecvError):
        b.recv_timeout(5.0)
    a.close()
    b.close()


def test_close_while_another_thread_receives_duplicates_nothing(url: str) -> None:
    """Finding 12: ``close()`` of a Receiver while another thread was in ``recv()`` on it
    delivered values twice (the receiving thread handed out an entry after the close had taken
    the acknowledgements, or one of a fetch that ran just before the CLOSE). Now an entry is
    handed out under the lock that the close marks the lease closed with: before (and
    acknowledged by the close) or not at all. The receiving thread sees ClosedHandleError."""
    import random

    rng = random.Random(4)
    dups = lost = 0
    errors: dict[str, int] = {}
    deadline = time.monotonic() + 4.0
    trials = 0
    while time.monotonic() < deadline:
        trials += 1
        capacity = rng.choice([None, 2])
        tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
        other = rx.clone()
        got: list[int] = []
        started = threading.Event()

        def consume(rx: Any = rx, got: list[int] = got, started: threading.Event = started) -> None:
            started.set()
            try:
                while True:
                    got.append(rx.recv_timeout(5.0))
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        n = 40
        consumer = threading.Thread(target=consume)
        consumer.start()
        started.wait(5)

        def produce(tx: Any = tx) -> None:
            for i in range(n):
                tx.send(i)
            tx.close()

        producer = threading.Thread(target=produce)
        producer.start()
        time.sleep(rng.uniform(0.0, 0.02))  # (a close at a random moment of the flow)
        rx.close()
        consumer.join(10)
        assert not consumer.is_alive()
        rest = []
        try:
            while True:
                rest.append(other.recv_timeout(5.0))
        except mpsc.RecvError:
            pass
        producer.join(10)
        assert not producer.is_alive()
        other.close()
        dups += len(got) + len(rest) - len(set(got) | set(rest))
        lost += n - len(set(got) | set(rest))
    assert dups == 0 and lost == 0, (trials, dups, lost)
    # (RecvError: the consumer had drained everything before the close)
    assert set(errors) <= {"ClosedHandleError", "RecvError"} and errors.get("ClosedHandleError"), errors


@pytest.mark.parametrize("side", ["tx", "rx"])
def test_an_interrupt_anywhere_in_close_leaves_nothing_behind(url: str, side: str) -> None:
    """Finding 06: an interrupt in ``close()`` left a Sender's lease renewed for ever (the
    receivers never disconnected), or dropped a Receiver's acknowledgements (the values it had
    returned were delivered again to a clone). At every check point of ``close()``: the close
    either did not happen or is finished by the lease thread, so the other side disconnects,
    and nothing is delivered twice."""
    from checkpoints import SignalInjector

    def scene(n: int) -> bool:
        tx, rx = mpsc.redis.channel(url, lease=0.3)
        if side == "tx":
            injector = SignalInjector(n, 10**9)
            quietly(injector, tx.close)
            fired, where = injector.fired, injector.where
            del tx, injector  # collected: if it was not closed, its finalizer releases it
            gc.collect()
            try:
                rx.recv_timeout(3.0)
            except mpsc.RecvError:
                pass
            except mpsc.Timeout:
                raise AssertionError((n, where, "the Sender's lease outlived it")) from None
            else:
                raise AssertionError((n, where, "received"))
            rx.close()
            return fired
        rx2 = rx.clone()
        for i in range(3):
            tx.send(i)
        assert [rx.recv() for _ in range(3)] == [0, 1, 2]
        injector = SignalInjector(n, 10**9)
        quietly(injector, rx.close)
        tx.close()
        again = []
        try:
            while True:
                again.append(rx2.recv_timeout(3.0))
        except mpsc.RecvError:
            pass
        assert again == [], (n, injector.where)
        rx2.close()
        rx.close()
        return injector.fired

    scene(0)
    fired = 0
    for n in [*range(1, 30), *range(30, 5000, 9)]:  # (every early point, then a sample)
        if not scene(n):
            break
        fired += 1
    assert fired > 20, fired


def test_try_recv_and_recv_timeout_keep_their_bound_while_another_thread_receives(url: str) -> None:
    """Finding 07: ``try_recv()`` and ``recv_timeout(t)`` blocked without bound while another
    thread was in ``recv()`` on the same Receiver (they waited for its lock). Now they wait for
    it at most until their own deadline (``try_recv``: not at all)."""
    tx, rx = mpsc.redis.channel(url)
    out: list[Any] = []
    blocker = threading.Thread(target=lambda: out.append(rx.recv_timeout(10.0)))
    blocker.start()
    for _ in range(500):  # until the blocker holds the handle (then it waits in its XREAD)
        if rx._lock.locked():
            break
        time.sleep(0.01)
    t0 = time.monotonic()
    with pytest.raises(mpsc.Empty):
        rx.try_recv()
    assert time.monotonic() - t0 < 0.5
    t0 = time.monotonic()
    with pytest.raises(mpsc.Timeout):
        rx.recv_timeout(0.2)
    assert 0.18 <= time.monotonic() - t0 < 1.0
    tx.send("v")
    blocker.join(10)
    assert out == ["v"]
    tx.close()
    rx.close()


def test_a_receive_whose_event_loop_closed_does_not_wedge_the_receiver(url: str) -> None:
    """Finding 09: a ``recv_async()`` whose event loop was closed while it waited kept the
    Receiver's lock for ever: every later receive hung. Now the next receive takes over the
    lock of a receive whose loop is closed."""
    tx, rx = mpsc.redis.channel(url)
    loop = asyncio.new_event_loop()
    task = loop.create_task(rx.recv_async())
    loop.run_until_complete(asyncio.sleep(0.2))
    loop.close()
    tx.send("after")
    out: list[Any] = []
    later = threading.Thread(target=lambda: out.append(rx.recv_timeout(2.0)))
    later.start()
    later.join(4)
    assert not later.is_alive() and out == ["after"]
    tx.send("more")
    assert rx.try_recv() == "more"
    del task
    gc.collect()  # (the abandoned receive, finalized now, lets go of nothing it no longer holds)
    tx.send("last")
    assert rx.recv_timeout(2.0) == "last"
    assert rx._owner is None
    tx.close()
    rx.close()


def test_every_key_has_a_ttl_from_the_start(url: str, server: RedisServer) -> None:
    """Finding 05: ``seq`` was created by the first send's HSET, and an adopt that removed its
    side's only lease recreated ``tx``/``rx``, both without TTL (a process dying before the next
    renewal left them for ever). Now no script creates a key without one."""
    tx, rx = mpsc.redis.channel(url, "ttl-from-start")

    def immortal() -> list[bytes]:
        return [k for k in keys_of(server, "ttl-from-start") if server.command("PTTL", k) == -1]

    tx.send(1)  # (well before the lease thread's first renewal)
    assert immortal() == []
    data = pickle.dumps(tx)
    tx.close()  # the travel lease is now the side's only one: the adopt replaces it
    carried = pickle.loads(data)
    assert immortal() == []
    assert rx.recv_timeout(5.0) == 1
    carried.close()
    rx.close()


def test_server_errors_are_mpsc_errors(url: str, server: RedisServer) -> None:
    """Finding 13: error replies escaped as raw redis-py exceptions. A database the server does
    not have is a bad URL (ValueError); a key of another type under a live channel's name is
    ``mpsc.redis.ServerError`` (a ``ChannelError``)."""
    with pytest.raises(ValueError, match="DB index"):
        mpsc.redis.channel(url.rsplit("/", 1)[0] + "/99")
    tx, rx = mpsc.redis.channel(url)
    server.command("DEL", tx.name)
    server.command("SET", tx.name, "someone else's value")
    with pytest.raises(mpsc.redis.ServerError, match="WRONGTYPE"):
        tx.send(1)
    with pytest.raises(mpsc.ChannelError):
        rx.recv_timeout(1.0)
    server.command("DEL", tx.name)
    tx.close()
    rx.close()


def test_at_maxmemory_sends_are_refused_and_the_receiver_drains(own_server: RedisServer) -> None:
    """Finding 08: at ``maxmemory`` (noeviction) Redis refused every flagless script, receives
    included (raw ``OutOfMemoryError``): the receiver could not drain the channel that filled
    the server. Now RECV, ACK, CLOSE, RENEW, LEASE, PEEK run there (``allow-oom``) and a send
    raises ``mpsc.redis.ServerError`` with nothing enqueued."""
    tx, rx = mpsc.redis.bounded(own_server.url, 100_000)
    used = int(own_server.command("INFO", "memory")["used_memory"])
    own_server.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    own_server.command("CONFIG", "SET", "maxmemory", str(used + 1_000_000))
    sent = 0

    def fill() -> None:
        nonlocal sent
        for _ in range(1000):
            tx.send(b"x" * 10_000)
            sent += 1

    with pytest.raises(mpsc.redis.ServerError, match="maxmemory"):
        fill()
    assert sent > 10 and len(rx) == sent
    assert [len(rx.recv_timeout(5.0)) for _ in range(sent)] == [10_000] * sent
    tx.send(b"room again")  # (the receive freed the memory)
    assert rx.recv_timeout(5.0) == b"room again"
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5.0)
    rx.close()


def test_an_event_loops_connections_close_with_it(url: str, server: RedisServer) -> None:
    """Finding 10: every event loop that used the async methods leaked a connection (an fd and
    a server client) for good. Now ``asyncio.run``'s shutdown disconnects the loop's pool."""
    tx, rx = mpsc.redis.channel(url)
    tx.send(0)
    assert rx.recv() == 0

    def clients() -> int:
        return int(server.command("INFO", "clients")["connected_clients"])

    before = clients()
    for i in range(20):

        async def once(i: int = i) -> object:
            await tx.send_async(i)
            return await rx.recv_async()

        assert asyncio.run(once()) == i
    assert clients() <= before + 2
    tx.close()
    rx.close()


class _SlowProxy:
    """A TCP proxy to a server that forwards client -> server at ``rate`` bytes a second."""

    def __init__(self, port: int, rate: float) -> None:
        import socket

        self.target, self.rate, self.up = port, rate, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        self.socks: list[Any] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        import socket

        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:  # (a timeout too)
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            self.socks += [client, server]
            for args in ((client, server, True), (server, client, False)):
                t = threading.Thread(target=self._pump, args=args, daemon=True)
                self.threads.append(t)
                t.start()

    def _pump(self, src: Any, dst: Any, slow: bool) -> None:
        src.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if slow:
                self.up += len(data)
                self.stopped.wait(len(data) / self.rate)
            try:
                dst.sendall(data)
            except OSError:
                break
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(2)

    def stop(self) -> None:
        self.stopped.set()
        for sock in [*self.socks, self.listener]:
            sock.close()
        for t in self.threads:
            t.join(5)


def test_a_large_send_completes_on_a_slow_link(server: RedisServer) -> None:
    """Review 2, finding 10: an untimed send whose command took longer than IO_TIMEOUT - GRACE/2
    (1.75 s) to upload reached the server after its own server-side deadline, every time: it
    never completed, uploading the value again and again. Now a large command gets time by its
    size (UPLOAD_RATE), goes once (scripts loaded first, the full SEND), and send_many's script
    calls carry at most CHUNK_BYTES."""
    proxy = _SlowProxy(server.port, 2_000_000)  # 5 MB: 2.5 s to upload
    outcome: list[Any] = []
    value = b"x" * 5_000_000
    many = [b"y" * 250_000 for _ in range(20)]  # 5 MB in all: two script calls

    def sends() -> None:
        try:
            for how in ("send", "send_async", "send_many"):
                before, t0 = proxy.up, time.monotonic()
                if how == "send":
                    tx.send(value)
                elif how == "send_async":
                    asyncio.run(asyncio.wait_for(tx.send_async(value), WAIT))
                else:
                    tx.send_many(many)
                outcome.append((how, proxy.up - before, time.monotonic() - t0))
        except BaseException as exc:  # (reported by the test)
            outcome.append(exc)

    tx, rx = mpsc.redis.channel(f"redis://127.0.0.1:{proxy.port}/0")
    server_tx, server_rx = mpsc.redis.channel(server.url, name=rx.name)  # (not through the proxy)
    sender = threading.Thread(target=sends)
    try:
        sender.start()
        sender.join(30)
        assert not sender.is_alive(), f"the sends did not complete: {outcome}"
        tx.close()
        rx.close()
    finally:
        proxy.stop()  # (a send still running then fails: ConnectionError)
        sender.join(10)
    assert [x[0] for x in outcome] == ["send", "send_async", "send_many"], outcome
    for _, uploaded, _ in outcome:
        assert uploaded < 5_000_000 * 1.2, outcome  # uploaded once
    assert server_rx.recv_timeout(WAIT) == value
    assert server_rx.recv_timeout(WAIT) == value
    assert [server_rx.recv_timeout(WAIT) for _ in range(20)] == many
    with pytest.raises(mpsc.Empty):
        server_rx.try_recv()
    for h in (server_tx, server_rx):
        h.close()


def test_a_fetch_is_bounded_by_size(url: str, server: RedisServer) -> None:
    """Finding 11: an unbounded receiver fetched up to BATCH entries whatever their size: with
    20 x 20 MB queued every reply (400 MB) outlasted the reply timeout, for ever. Now a fetch
    reads in growing chunks and stops at about 4 MB (at least one entry), and what a reply
    leaves out is re-read first by the next fetch."""
    tx, rx = mpsc.redis.channel(url)
    big = b"x" * (3 * 1024 * 1024)
    for i in range(8):
        tx.send((i, big))
    rx._last = time.monotonic() + 60  # as if it had just received: its fetch takes a batch
    assert rx.recv()[0] == 0
    assert len(rx._buf) <= 1  # (3 MB, then 6 MB: the fetch stopped)
    pending = server.command("XPENDING", rx.name, "rx")
    assert int(pending["pending"]) <= 3, pending  # (nor were the rest delivered to this receiver)
    assert [rx.recv()[0] for _ in range(7)] == list(range(1, 8))
    tx.send((8, b"small"))
    assert rx.recv() == (8, b"small")
    tx.close()
    with pytest.raises(mpsc.RecvError):
        rx.recv_timeout(5.0)
    rx.close()


_REFUSALS: list[str] = []


def _refuse_as_empty(what: str) -> Any:
    _REFUSALS.append(what)
    raise mpsc.Empty()


class RaisesEmptyWhenUnpickled:
    """A value whose own unpickling raises a ChannelError (as a reconstructor that itself
    try_recv's from a channel might)."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _refuse_as_empty, ("refused",)


@pytest.mark.parametrize("carrying", [False, True])
@pytest.mark.parametrize("capacity", [None, 4])
def test_a_value_whose_own_unpickling_raises_a_channel_error_is_consumed_once(
    url: str, capacity: int | None, carrying: bool
) -> None:
    """Review 9, finding 01: a value whose own unpickling raised a ChannelError (``Empty``) was
    taken for a handle's failed adoption: never consumed, every receive raised it again and ran
    the value's code again, and the messages behind it never came. It is the value's own error:
    raised once (with the note that says so), the message consumed, the next one received."""
    tx, rx = mpsc.redis.channel(url) if capacity is None else mpsc.redis.bounded(url, capacity)
    other_tx, other_rx = mpsc.redis.channel(url)
    _REFUSALS.clear()
    tx.send((RaisesEmptyWhenUnpickled(), other_tx) if carrying else RaisesEmptyWhenUnpickled())
    tx.send("next")
    with pytest.raises(mpsc.Empty) as raised:
        rx.recv_timeout(WAIT)
    assert OWN_ERROR_NOTE in getattr(raised.value, "__notes__", ())
    assert rx.recv_timeout(WAIT) == "next"
    assert _REFUSALS == ["refused"]
    for handle in (tx, rx, other_tx, other_rx):
        handle.close()


_SHARED_ERROR = ValueError("one instance, raised by every unpickling of the value below")


def _raise_the_shared_error() -> None:
    raise _SHARED_ERROR


class RaisesOneSharedError:
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return _raise_the_shared_error, ()


def test_an_error_raised_by_several_values_unpickling_carries_the_note_once(url: str) -> None:
    tx, rx = mpsc.redis.channel(url)
    _SHARED_ERROR.__notes__ = []
    for _ in range(3):
        tx.send(RaisesOneSharedError())
    for _ in range(3):
        with pytest.raises(ValueError, match="one instance"):
            rx.recv_timeout(WAIT)
    assert _SHARED_ERROR.__notes__ == [OWN_ERROR_NOTE]
    tx.close()
    rx.close()


def test_a_bridge_goes_on_past_a_value_whose_unpickling_raises_a_channel_error(url: str) -> None:
    """Review 9, finding 04: through ``bridge`` such a value ended the bridge (the bridged
    receiver said RecvError with the Sender alive, and later messages never came)."""
    tx, rx = mpsc.redis.channel(url)
    bridged = mpsc.redis.bridge(rx)
    tx.send(1)
    tx.send(RaisesEmptyWhenUnpickled())
    tx.send(2)
    with pytest.warns(RuntimeWarning, match="failed to unpickle"):
        got = [bridged.recv_timeout(WAIT) for _ in range(2)]
    assert got == [1, 2]
    assert not tx.is_disconnected()
    tx.close()
    with pytest.raises(mpsc.RecvError):
        bridged.recv_timeout(WAIT)
    bridged.close()
