"""Finding 02: `send_timeout()` raises `Timeout` although its value was enqueued (duplicates on retry).

Promise (`mpsc.redis` docstring): "*A send that raised did not enqueue its value* - including
``Timeout`` and ``mpsc.redis.ConnectionError``: every attempt carries a server-side deadline
(the client's give-up instant, on the server's clock, estimated from below), after which its
script does nothing". `Sender.send_timeout`: "Timeout: No room came in time; the value was not
sent and is ``.value``." DESIGN §4.1: "A send that raised did not enqueue its value."

What happens: the SEND script's guard is `if late > 0 and NOW > late then return 'late'`, with
both NOW (server TIME) and `late` (the client's give-up instant on the server clock, from
below) truncated to whole milliseconds. A script that runs after the client gave up but within
the same millisecond as `late` has NOW == late and appends. The client, which stopped waiting
for the reply at its deadline, drops the connection and raises Timeout. A caller that retries
the Timeout'd value (the usual reaction: `.value` is handed back for that) sends it twice.

Easiest with `send_timeout(v, 0)` (there is room: a thread channel sends at once), which gives
up before the reply can arrive; a short timeout on a slow link or loaded server does the same.
Exit 1 when some value whose send raised Timeout is found in the channel.
"""

from __future__ import annotations

import sys

from _srv import server

import mpsc
import mpsc.redis as mr

N = 400


def main() -> int:
    srv = server()
    tx, rx = mr.channel(srv.url)
    raised = set()
    for i in range(N):
        try:
            tx.send_timeout(i, 0)
        except mpsc.Timeout as exc:
            raised.add(exc.value)
    tx.close()
    got = list(rx)
    ghosts = sorted(raised & set(got))
    print(
        f"{N} send_timeout(v, 0) on an empty unbounded channel: {N - len(raised)} returned, "
        f"{len(raised)} raised Timeout; received {len(got)}; "
        f"{len(ghosts)} of the values whose send raised Timeout were delivered: {ghosts[:10]}"
    )
    rx.close()
    if ghosts:
        print("FAIL: a send that raised Timeout enqueued its value (a retry duplicates it)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
