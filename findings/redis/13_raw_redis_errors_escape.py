"""Finding 13: server-side errors escape as raw redis-py exceptions, not mpsc errors.

Promises: issue 12: "Bad input: a bad URL, a name that another kind of key already uses ... ->
clear errors at the call"; `channel()` raises "ValueError: A bad URL ... a name used by another
kind of key" or `mpsc.redis.ConnectionError`; `send`/`recv` list their exceptions (SendError,
RecvError, ClosedHandleError, LeaseExpiredError, mpsc.redis.ConnectionError, ...) and
`except mpsc.ChannelError` is meant to catch the channel's failures.

What happens:
* `channel("redis://host:port/99")` (a database the server does not have) raises
  `redis.exceptions.ResponseError: DB index is out of range` (not ValueError / ConnectionError);
* once the channel exists, a key of another type under its name (another program's `SET name`,
  a `DEL` + reuse) makes `send()`/`recv()` raise `redis.exceptions.ResponseError: WRONGTYPE ...`
  from inside the script (the type is checked only at JOIN);
* (finding 08: `OutOfMemoryError` the same way.)

Exit 1 when any of these is not an mpsc exception (ChannelError, ValueError, TypeError).
"""

from __future__ import annotations

import sys

from _srv import server

import mpsc
import mpsc.redis as mr

CLEAR = (mpsc.ChannelError, ValueError, TypeError)


def main() -> int:
    srv = server()
    bad = []

    def check(label: str, fn) -> None:
        try:
            fn()
            print(f"{label}: no error")
        except CLEAR as exc:
            print(f"{label}: {type(exc).__name__} (fine)")
        except Exception as exc:
            bad.append(f"{label}: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:70]}")

    check("channel() on database 99", lambda: mr.channel(f"redis://127.0.0.1:{srv.port}/99"))
    tx, rx = mr.channel(srv.url)
    srv.command("DEL", tx.name)
    srv.command("SET", tx.name, "someone else's value")
    check("send() after the name became a string", lambda: tx.send(1))
    check("recv() after the name became a string", lambda: rx.try_recv())
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
