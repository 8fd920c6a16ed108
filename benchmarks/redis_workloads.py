"""The mpsc.redis workloads: one producer → one consumer of small messages through a Redis
server that the run starts itself (Debian's redis-server, loopback, no persistence), compared
with plain redis-py loops doing the same commands.

* ``redis_send``: n sends into a stream nobody reads during the timing. Reference: a redis-py
  ``XADD`` per message (one round trip each). Rows: ``mpsc.redis send`` (one script per
  message) and ``mpsc.redis send_many`` (500 values per script: pipelined appends).
* ``redis_recv``: n messages already in the stream, received one by one. Reference: a redis-py
  loop of ``XREADGROUP COUNT 100`` and ``XACK`` of each batch; row: ``mpsc.redis recv`` (it
  fetches 100 per round trip and acknowledges with the next fetch).

Every run checks the values received (their sum) and that nothing is left.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from time import perf_counter
from typing import Any

_server: dict[str, Any] = {}


def skip_reason() -> str | None:
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install mpsc[redis])"
    return None


def _url() -> str:
    """The URL of this benchmark run's server (started on first use, killed at exit)."""
    if "url" not in _server:
        import atexit

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        scratch = tempfile.mkdtemp(prefix="mpsc-bench-redis-")
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", scratch, "--save", "",
             "--appendonly", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
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
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.01)
        _server["url"] = f"redis://127.0.0.1:{port}/0"
    url: str = _server["url"]
    return url


def _check(what: str, n: int, total: int, left: int) -> None:
    if total != n * (n - 1) // 2 or left:
        raise RuntimeError(f"{what}: received sum {total} (expected {n * (n - 1) // 2}), {left} left over")


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
}
RECV_ROWS: dict[str, Callable[[int], float]] = {
    "redis-py XREADGROUP+XACK": recv_plain,
    "mpsc.redis recv": recv_mpsc,
}
