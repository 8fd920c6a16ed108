"""Finding 03: a `recv_timeout()` that raised Timeout took a message and hides it from every other
receiver - and the other receivers never see RecvError. Also: timeout 0 never succeeds.

Promises: `Receiver.recv_timeout`: "Timeout: Nothing came in time."; `mpsc.redis.ConnectionError`
(same mechanism): "A receive that raises it took nothing: entries read for it stay pending on
the server and are handed out again"; `close()`: "Releasing the last Sender lets receivers drain
and then see ``RecvError``"; DESIGN §4.4 "A recv ... that times out ... takes effect completely
or not at all ... the channel is as if it never ran"; §4.3 "a blocked recv wakes when a value
arrives or the last sender goes".

What happens: when the caller's deadline passes while the RECV script's reply is on its way,
the client drops the connection and raises Timeout - but the script ran: XREADGROUP moved the
entry into this receiver's pending list. It is "handed out again" only to *this* handle, by its
next receive (`_orphans`). If this handle does not receive again (it timed out: its caller moved
on, keeps it as an idle clone, or simply waits a while), the entry stays pending under a live
lease, renewed for ever: no other receiver can get it, and since RECV answers 'disc' only when
nothing is pending anywhere, the other receivers never get RecvError: they block.

Deterministic with `recv_timeout(0)` (which, unlike the thread channels', never returns a message
even when the channel is full of them: it gives up before any reply can arrive). Same with
`send_timeout(v, 0)`, which nearly always raises Timeout on an empty unbounded channel.

Exit 1 when the problem shows.
"""

from __future__ import annotations

import sys
import time

from _srv import server

import mpsc
import mpsc.redis as mr


def trial(url: str) -> str | None:
    """One receiver times out once; does the other get everything, then RecvError?"""
    tx, rx_a = mr.channel(url)
    rx_b = rx_a.clone()
    try:
        for i in range(3):
            tx.send(i)
        try:
            rx_a.recv_timeout(0)
            return None  # (it returned: no timeout this time)
        except mpsc.Timeout:
            pass
        tx.close()
        got = []
        try:
            while True:
                got.append(rx_b.recv_timeout(3.0))
        except mpsc.RecvError:
            return "" if got == [0, 1, 2] else f"B got {got} then RecvError"
        except mpsc.Timeout:
            return (
                f"after A's recv_timeout(0) raised Timeout and the last Sender closed, B got {got} and then "
                f"neither the rest nor RecvError within 3 s ({len(rx_b)} entries pending under idle A)"
            )
    finally:
        for h in (tx, rx_a, rx_b):
            h.close()


def main() -> int:
    srv = server()
    bad = []
    for _ in range(30):
        outcome = trial(srv.url)
        if outcome:
            bad.append(outcome)
            break
    zero_hits = 0
    tx, rx = mr.channel(srv.url)
    for i in range(3):
        tx.send(i)
    for _ in range(10):
        rx2 = rx.clone()  # a fresh handle each time: nothing prefetched
        try:
            rx2.recv_timeout(0)
            zero_hits += 1
        except mpsc.Timeout:
            pass
        rx2.close()
    if zero_hits == 0:
        bad.append("recv_timeout(0) on 10 fresh receivers raised Timeout each time with 3 messages in the channel")
    tx.close()
    rx.close()
    ok = 0
    for i in range(20):
        tx2, rx2 = mr.channel(srv.url)
        try:
            tx2.send_timeout(i, 0)
            ok += 1
        except mpsc.Timeout:
            pass
        finally:
            tx2.close()
            rx2.close()
    if ok < 10:
        bad.append(f"send_timeout(v, 0) on an empty unbounded channel returned {ok} times of 20 (Timeout the rest)")
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
