"""The mpsc.redis workloads, through a Redis server that the run starts itself (Debian's
redis-server on a free loopback port, in a scratch directory of its own, no persistence; one
server for every row, mpsc and its peers alike), compared with plain redis-py doing the same
commands.

* ``redis_send``: n sends into a stream nobody reads during the timing. Reference: a redis-py
  ``XADD`` per message (one round trip each). Rows: ``mpsc.redis send`` (one script per
  message), ``mpsc.redis send_many`` (500 values per script) and a redis-py pipeline of 500
  ``XADD`` per round trip (what ``send_many`` is measured against).
* ``redis_recv``: n messages already in the stream, received one by one. Reference: a redis-py
  loop of ``XREADGROUP COUNT 100`` and ``XACK`` of each batch; row: ``mpsc.redis recv`` (it
  fetches 100 per round trip and acknowledges with the next fetch).
* ``redis_fanin``: 4 producer processes → 2 consumer processes, n messages in all: msgs/s, and
  the server's CPU time (utime + stime of the redis-server process, from ``/proc``) per 100k
  messages and as a share of one core. Rows: mpsc.redis ``channel`` and ``bounded(1000)``, and
  plain redis-py doing the same (``XADD`` per message; ``XREADGROUP COUNT 100 BLOCK`` + ``XACK``).
* ``redis_disconnect``: a receiver process blocked in ``recv``, the only sender process
  SIGKILLed: seconds from the kill to the receiver's ``RecvError``, one round per run, with the
  default lease and a 0.5 s one.

Every run checks the values received (their sum and count) and that nothing is left.
"""

from __future__ import annotations

import atexit
import os
import pickle
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

PRODUCERS = 4
CONSUMERS = 2
FANIN_CAPACITY = 1000
SHORT_LEASE = 0.5
PIPELINE = 500  # XADDs per round trip in the pipelined peer: send_many's CHUNK
FANIN_REFERENCE = "redis-py XADD → XREADGROUP+XACK"

_server: dict[str, Any] = {}

Measured = float | tuple[float, dict[str, float]]


def skip_reason() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install mpsc[redis])"
    return None


def default_lease() -> float:
    """mpsc.redis's default lease (seconds), or its documented value when redis-py is missing."""
    try:
        from mpsc.redis import LEASE
    except ImportError:
        return 1.5
    return float(LEASE)


def disconnect_row(lease: float) -> str:
    default = " (default)" if lease == default_lease() else ""
    return f"mpsc.redis lease {lease:g} s{default}"


def _die_with_parent() -> None:  # pragma: no cover (runs in the child between fork and exec)
    """The server gets SIGKILL if the benchmark process dies without running its atexit hook
    (SIGKILL, SIGTERM): Linux's PR_SET_PDEATHSIG; elsewhere nothing (atexit still kills it)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _url() -> str:
    """The URL of this benchmark run's server (started on first use, killed at exit)."""
    if "url" not in _server:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        scratch = tempfile.mkdtemp(prefix="mpsc-bench-redis-")
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", scratch, "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads yet)
        )  # fmt: skip

        def stop() -> None:
            proc.kill()
            proc.wait(10)
            shutil.rmtree(scratch, ignore_errors=True)

        atexit.register(stop)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.01)
        _server["url"] = f"redis://127.0.0.1:{port}/0"
        _server["pid"] = proc.pid
    url: str = _server["url"]
    return url


def server_cpu() -> float:
    """CPU seconds (user + system) the run's redis-server has used so far (Linux /proc)."""
    _url()
    with open(f"/proc/{_server['pid']}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _check(what: str, n: int, total: int, left: int) -> None:
    if total != n * (n - 1) // 2 or left:
        raise RuntimeError(f"{what}: received sum {total} (expected {n * (n - 1) // 2}), {left} left over")


# -- 1 → 1 ----------------------------------------------------------------------------------------


def send_plain(n: int) -> float:
    import redis

    client = redis.Redis.from_url(_url())
    key = "bench:" + os.urandom(6).hex()
    payloads = [str(i).encode() for i in range(n)]
    t0 = perf_counter()
    for p in payloads:
        client.xadd(key, {"d": p})
    elapsed = perf_counter() - t0
    assert client.xlen(key) == n
    client.delete(key)
    client.close()
    return n / elapsed


def send_pipelined(n: int) -> float:
    import redis

    client = redis.Redis.from_url(_url())
    key = "bench:" + os.urandom(6).hex()
    payloads = [str(i).encode() for i in range(n)]
    t0 = perf_counter()
    for lo in range(0, n, PIPELINE):
        pipe = client.pipeline(transaction=False)
        for p in payloads[lo : lo + PIPELINE]:
            pipe.xadd(key, {"d": p})
        pipe.execute()
    elapsed = perf_counter() - t0
    assert client.xlen(key) == n
    client.delete(key)
    client.close()
    return n / elapsed


def _send_mpsc(many: bool) -> Callable[[int], float]:
    def run(n: int) -> float:
        import mpsc.redis

        tx, rx = mpsc.redis.channel(_url())
        t0 = perf_counter()
        if many:
            tx.send_many(range(n))
        else:
            for i in range(n):
                tx.send(i)
        elapsed = perf_counter() - t0
        tx.close()
        total = sum(rx)
        rx.close()
        _check("mpsc.redis send", n, total, 0)
        return n / elapsed

    return run


def recv_plain(n: int) -> float:
    import redis

    client = redis.Redis.from_url(_url())
    key = "bench:" + os.urandom(6).hex()
    client.xgroup_create(key, "g", id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.xadd(key, {"d": str(i).encode()})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    total = 0
    t0 = perf_counter()
    got = 0
    while got < n:
        reply = client.xreadgroup("g", "c", {key: ">"}, count=100)
        entries = reply[0][1]
        ids = []
        for entry_id, fields in entries:
            total += int(fields[b"d"])
            ids.append(entry_id)
        client.xack(key, "g", *ids)
        got += len(ids)
    elapsed = perf_counter() - t0
    client.delete(key)
    client.close()
    _check("redis-py XREADGROUP", n, total, 0)
    return n / elapsed


def recv_mpsc(n: int) -> float:
    import mpsc
    import mpsc.redis

    tx, rx = mpsc.redis.channel(_url())
    tx.send_many(range(n))
    total = 0
    t0 = perf_counter()
    for _ in range(n):
        total += rx.recv()
    elapsed = perf_counter() - t0
    tx.close()
    left = sum(1 for _ in rx.try_iter())
    rx.close()
    _check("mpsc.redis recv", n, total, left)
    return n / elapsed


SEND_ROWS: dict[str, Callable[[int], float]] = {
    "redis-py XADD": send_plain,
    "mpsc.redis send": _send_mpsc(False),
    "mpsc.redis send_many": _send_mpsc(True),
    "redis-py pipelined XADD": send_pipelined,
}
RECV_ROWS: dict[str, Callable[[int], float]] = {
    "redis-py XREADGROUP+XACK": recv_plain,
    "mpsc.redis recv": recv_mpsc,
}


# -- 4 producer processes → 2 consumer processes --------------------------------------------------
#
# The processes go through workloads._run_roles (the process workloads' protocol: two barriers,
# then each reports its start, its end and what it received; every child is reaped). mpsc's
# handles travel to the children pickled (each pickle holds its side open until it is
# unpickled), and the parent closes its own; consumers receive until RecvError, which comes
# once every producer has closed its Sender. The plain consumers cannot know when everything has
# arrived: the producer whose INCR of a counter reaches 4 appends one end marker per consumer
# (after its own last XADD, and every other producer's); a consumer stops at the first marker it
# reads and appends again any further marker of its batch, so each consumer gets one.


def _mpsc_producer(blob: bytes, lo: int, hi: int, start: Any, wait: float, report: Any) -> None:
    import workloads

    def body() -> tuple[Any, ...]:
        start.wait(wait)  # the consumers are ready
        tx = pickle.loads(blob)
        start.wait(wait)
        t0 = perf_counter()
        send = tx.send
        for i in range(lo, hi):
            send(i)
        tx.close()  # the last producer's close ends the consumers' loops (RecvError)
        return (t0, perf_counter(), 0, 0), lambda: 0

    workloads._role(body, start, report)


def _mpsc_consumer(blob: bytes, start: Any, wait: float, report: Any) -> None:
    import workloads

    def body() -> tuple[Any, ...]:
        rx = pickle.loads(blob)
        start.wait(wait)
        start.wait(wait)
        t0 = last = perf_counter()
        total = count = 0
        for value in rx:
            total += value
            count += 1
            last = perf_counter()

        def finish() -> int:
            left = sum(1 for _ in rx.try_iter())
            rx.close()
            return left

        return (t0, last, total, count), finish

    workloads._role(body, start, report)


def _plain_producer(url: str, key: str, lo: int, hi: int, start: Any, wait: float, report: Any) -> None:
    import redis
    import workloads

    def body() -> tuple[Any, ...]:
        start.wait(wait)
        client = redis.Redis.from_url(url)
        start.wait(wait)
        t0 = perf_counter()
        xadd = client.xadd
        for i in range(lo, hi):
            xadd(key, {"d": str(i).encode()})
        if client.incr(key + ":done") == PRODUCERS:  # the last producer: one end marker per consumer
            pipe = client.pipeline(transaction=False)
            for _ in range(CONSUMERS):
                pipe.xadd(key, {"end": b""})
            pipe.execute()
        t1 = perf_counter()

        def finish() -> int:
            client.close()
            return 0

        return (t0, t1, 0, 0), finish

    workloads._role(body, start, report)


def _plain_consumer(url: str, key: str, name: str, start: Any, wait: float, report: Any) -> None:
    import redis
    import workloads

    def body() -> tuple[Any, ...]:
        client = redis.Redis.from_url(url)
        start.wait(wait)
        start.wait(wait)
        t0 = last = perf_counter()
        total = count = 0
        while True:
            reply = client.xreadgroup("g", name, {key: ">"}, count=100, block=1000)
            if not reply:
                continue
            ids, ends = [], 0
            for entry_id, fields in reply[0][1]:
                ids.append(entry_id)
                d = fields.get(b"d")
                if d is None:
                    ends += 1
                else:
                    total += int(d)
                    count += 1
            client.xack(key, "g", *ids)
            if len(ids) > ends:
                last = perf_counter()
            if ends:
                for _ in range(ends - 1):  # another consumer's marker: put it back
                    client.xadd(key, {"end": b""})
                break

        def finish() -> int:
            client.close()
            return 0

        return (t0, last, total, count), finish

    workloads._role(body, start, report)


def fanin_run(kind: str) -> Callable[[int], Measured]:
    """``kind``: "plain" (redis-py), "unbounded" or "bounded" (mpsc.redis)."""
    what = f"redis {PRODUCERS} → {CONSUMERS} processes, {kind}"

    def run(n: int) -> Measured:
        import redis
        import workloads

        import mpsc.redis

        ctx = workloads._ctx()
        start = ctx.Barrier(PRODUCERS + CONSUMERS + 1)
        url = _url()
        client = redis.Redis.from_url(url)
        key = "bench:" + os.urandom(6).hex()
        bounds = [p * n // PRODUCERS for p in range(PRODUCERS + 1)]
        roles: list[tuple[str, Callable[..., None], tuple[Any, ...]]] = []
        if kind == "plain":
            client.xgroup_create(key, "g", id="0", mkstream=True)
            roles += [
                (f"consumer-{c}", _plain_consumer, (url, key, f"c{c}", start)) for c in range(CONSUMERS)
            ]
            roles += [
                (f"producer-{p}", _plain_producer, (url, key, bounds[p], bounds[p + 1], start))
                for p in range(PRODUCERS)
            ]
        else:
            if kind == "bounded":
                tx, rx = mpsc.redis.bounded(url, FANIN_CAPACITY)
            else:
                tx, rx = mpsc.redis.channel(url)
            with tx, rx:  # each pickle holds its side open until a child unpickles it
                roles += [
                    (f"consumer-{c}", _mpsc_consumer, (pickle.dumps(rx), start)) for c in range(CONSUMERS)
                ]
                roles += [
                    (f"producer-{p}", _mpsc_producer, (pickle.dumps(tx), bounds[p], bounds[p + 1], start))
                    for p in range(PRODUCERS)
                ]
        try:
            cpu0 = server_cpu()
            reports, leftover = workloads._run_roles(ctx, roles, start, n, what)
            cpu = server_cpu() - cpu0
            if kind == "plain":
                leftover += int(client.xpending(key, "g")["pending"])
        finally:
            client.delete(key, key + ":done")
            client.close()
        consumed = reports[:CONSUMERS]
        count = sum(r[3] for r in consumed)
        if count != n:
            raise workloads.BenchmarkError(f"{what}: {count} messages received, expected {n}")
        _check(what, n, sum(r[2] for r in consumed), leftover)
        elapsed = max(r[1] for r in consumed) - min(r[0] for r in reports)
        return n / elapsed, {
            "server CPU s/100k msgs": cpu / n * 1e5,
            "server % of a core": 100 * cpu / elapsed,
        }

    return run


FANIN_ROWS: dict[str, Callable[[int], Measured]] = {
    FANIN_REFERENCE: fanin_run("plain"),
    "mpsc.redis channel": fanin_run("unbounded"),
    f"mpsc.redis bounded({FANIN_CAPACITY})": fanin_run("bounded"),
}


# -- disconnection after SIGKILL of the last sender -------------------------------------------------


def _doomed_sender(blob: bytes, conn: Any) -> None:
    """Send one message, then idle (the lease thread renewing) until SIGKILLed."""
    tx = pickle.loads(blob)
    tx.send("alive")
    try:
        conn.recv()  # never answered: this process is killed (EOF if the parent went first)
    except EOFError:
        pass
    tx.close()


def _blocked_receiver(blob: bytes, conn: Any) -> None:
    """Receive the sender's message, say so, then block in recv() until RecvError."""
    import mpsc

    rx = pickle.loads(blob)
    try:
        conn.send(("ready", rx.recv()))
        try:
            value = rx.recv()
        except mpsc.RecvError:
            conn.send(("disconnected", perf_counter()))
        else:
            conn.send(("error", f"received {value!r} instead of RecvError"))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        rx.close()


def _expect(conn: Any, kind: str, timeout: float, what: str) -> Any:
    import workloads

    if not conn.poll(timeout):
        raise workloads.BenchmarkError(f"{what}: no {kind!r} from the receiver within {timeout:g} s")
    try:
        message = conn.recv()
    except EOFError:
        raise workloads.BenchmarkError(f"{what}: the receiver ended without a word") from None
    if message[0] != kind:
        raise workloads.BenchmarkError(f"{what}: the receiver said {message!r}, expected {kind!r}")
    return message[1]


def disconnect_run(lease: float) -> Callable[[int], float]:
    """One round: seconds from the SIGKILL of the only sender's process to the RecvError of a
    receiver process blocked in recv(). (n is not used.)"""
    what = f"disconnection after SIGKILL, lease {lease:g} s"

    def run(n: int) -> float:
        import workloads

        import mpsc.redis

        ctx = workloads._ctx()
        tx, rx = mpsc.redis.channel(_url(), lease=lease)
        with tx, rx:  # each pickle holds its side open until the child unpickles it
            tx_blob, rx_blob = pickle.dumps(tx), pickle.dumps(rx)
        ours, theirs = ctx.Pipe()
        idle, idle_child = ctx.Pipe()
        sender = ctx.Process(target=_doomed_sender, args=(tx_blob, idle_child), name="sender", daemon=True)
        receiver = ctx.Process(target=_blocked_receiver, args=(rx_blob, theirs), name="receiver", daemon=True)
        try:
            sender.start()
            receiver.start()
            theirs.close()
            idle_child.close()
            if _expect(ours, "ready", 60, what) != "alive":
                raise workloads.BenchmarkError(f"{what}: the receiver got a wrong first message")
            # The receiver is now blocked in recv(); the kill lands anywhere in the renewal period.
            time.sleep(random.uniform(0.1, 0.1 + lease / 4))
            killed = perf_counter()
            os.kill(sender.pid, signal.SIGKILL)  # type: ignore[arg-type]
            return float(_expect(ours, "disconnected", 10 + 5 * lease, what)) - killed
        finally:
            for child in (sender, receiver):
                if child.is_alive():
                    child.kill()
                child.join(10)
            ours.close()
            idle.close()

    return run


DISCONNECT_ROWS: dict[str, Callable[[int], float]] = {
    disconnect_row(lease): disconnect_run(lease) for lease in (default_lease(), SHORT_LEASE)
}
