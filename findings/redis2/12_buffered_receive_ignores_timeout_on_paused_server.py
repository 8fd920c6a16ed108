"""Unbounded Receiver with prefetched entries, server paused (SIGSTOP) for longer than 0.9 lease:
``recv_timeout(0.1)`` does not time out -- it waits for the server (IO_TIMEOUT, then RETRY_FOR
of retries) and raises ConnectionError after ~5 s, although its entries are right there in
its buffer and its own bound is 0.1 s. ``try_recv()`` ("without waiting") does the same.

Promises: "Timeouts fire while it is paused" (mpsc.redis, Faults); recv_timeout "waiting at
most timeout seconds" (plus GRACE for a fetch sent in time).

Cause: ``Receiver._recv_steps``: before handing out a buffered entry past ``lease.valid_until``
it renews with an ACK step whose deadline is None (also the bounded ACK after a hand-out, and
the rendezvous withdrawal in ``_rendezvous_steps``: finding 06). Suggested fix: give those steps
the call's deadline (+GRACE); on Expired raise Timeout with the entry left buffered.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

LIMIT = 0.1 + 0.5 + 0.4
srv = server()
tx, rx = mpsc.redis.channel(srv.url, lease=2.0)  # (keys kept 20 s: see 13)
for i in range(10):
    tx.send(i)
assert rx.recv() == 0  # the other nine are now in rx's buffer
problems = []
srv.pause()
try:
    time.sleep(2.0)  # past 0.9 lease: the lease thread's renewals fail meanwhile
    for name, call in (("recv_timeout(0.1)", lambda: rx.recv_timeout(0.1)), ("try_recv()", rx.try_recv)):
        t0 = time.monotonic()
        try:
            outcome = f"returned {call()!r}"
        except (mpsc.Timeout, mpsc.Empty) as e:
            outcome = type(e).__name__
        except mpsc.redis.ConnectionError as e:
            outcome = f"ConnectionError ({e})"
        took = time.monotonic() - t0
        print(f"{name} with 9 values buffered, server paused: {outcome} after {took:.1f} s")
        if took > LIMIT:
            problems.append(f"{name} took {took:.1f} s")
finally:
    srv.resume()
time.sleep(0.5)
rest = []
while True:
    try:
        rest.append(rx.recv_timeout(2.0))
    except Exception as e:  # noqa: BLE001
        print("then", type(e).__name__)
        break
    if len(rest) == 9:
        break
print("after the resume the receiver got", rest)
tx.close()
rx.close()
if problems:
    print("FAIL: a buffered receive ignores its bound on a paused server:", "; ".join(problems))
    sys.exit(1)
print("OK")
