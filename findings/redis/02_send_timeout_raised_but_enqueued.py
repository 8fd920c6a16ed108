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

N = 150


def one_link(url: str) -> tuple[int, int, int, list[int]]:
    tx, rx = mr.channel(url)
    raised = set()
    for i in range(N):
        try:
            tx.send_timeout(i, 0)
        except mpsc.Timeout as exc:
            raised.add(exc.value)
    tx.close()
    got = list(rx)
    rx.close()
    return N - len(raised), len(raised), len(got), sorted(raised & set(got))


def main() -> int:
    srv = server()
    total_raised = 0
    ghosts: list[str] = []
    # Each database number is a separate Link (URL), hence a fresh estimate of the server clock:
    # whether the window shows depends on that estimate's sub-millisecond error.
    for db in range(16):
        returned, raised, got, ghost = one_link(f"redis://127.0.0.1:{srv.port}/{db}")
        total_raised += raised
        print(f"db {db}: {returned} send_timeout(v, 0) returned, {raised} raised Timeout, {got} received, "
              f"{len(ghost)} raised-but-delivered {ghost[:6]}")
        ghosts += [f"db{db}:{v}" for v in ghost]
    print(f"{len(ghosts)} of {total_raised} sends that raised Timeout were delivered")
    if ghosts:
        print("FAIL: a send that raised Timeout enqueued its value (a retry duplicates it)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
