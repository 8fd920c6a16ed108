"""Finding 08: a server at `maxmemory` refuses every mpsc.redis script, receives included, so the
channel that filled the memory can never be drained; the errors are raw redis-py exceptions.

Promises: `Receiver.recv`: raises RecvError / ClosedHandleError / LeaseExpiredError /
`mpsc.redis.ConnectionError` ("could not be reached") / RuntimeError / an unpickling error -
nothing else; issue 12: faults give "a clear ``ConnectionError`` subclass of ``ChannelError``";
DESIGN §4.3 "no deadlock: a blocked send wakes when room appears". The point of a queue whose
consumer is behind is that the consumer can catch up.

What happens: every script (SEND, RECV, ACK, PEEK, LEASE, RENEW) is plain EVALSHA without
`#!lua flags=...`; Redis refuses such a script with -OOM once used memory exceeds maxmemory
(noeviction, the default policy and the one a queue must use), *before running it* - although
RECV/ACK would free memory (XACK + XDEL). So once producers have filled the server:
* `send()` raises `redis.exceptions.OutOfMemoryError` (not Full, not an mpsc error; on a bounded
  channel it does not wait for room either);
* `recv()`, `try_recv()`, `len()`, `clone()` raise the same: the consumer cannot take a single
  message, so memory never frees; the channel is wedged until an operator deletes keys;
* the lease renewals fail silently (the leases survive only because the lease clock stands still).

The script: an unbounded-enough bounded(100000) channel, maxmemory set 2 MB above the current use,
sends 10 kB values until the server refuses, then tries to receive. Exit 1 when the receive
fails (or any error is not an mpsc one).
"""

from __future__ import annotations

import sys

from _srv import server

import mpsc
import mpsc.redis as mr


def main() -> int:
    srv = server()
    tx, rx = mr.bounded(srv.url, 100_000)
    used = int(srv.command("INFO", "memory")["used_memory"])
    srv.command("CONFIG", "SET", "maxmemory", str(used + 2_000_000))
    srv.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
    bad = []
    sent = 0
    try:
        for _ in range(5000):
            tx.send(b"x" * 10_000)
            sent += 1
    except Exception as exc:
        print(f"send #{sent + 1} raised {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:80]}")
        if not isinstance(exc, mpsc.ChannelError):
            bad.append(f"send raised {type(exc).__module__}.{type(exc).__name__}, not an mpsc error")
    drained = 0
    try:
        for _ in range(sent):
            rx.recv_timeout(2)
            drained += 1
    except Exception as exc:
        bad.append(
            f"with {sent} messages in the channel the receiver cannot take one (took {drained}): "
            f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:70]}"
        )
    srv.command("CONFIG", "SET", "maxmemory", "0")
    tx.close()
    rx.close()
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
