"""Entries of over 4 MB: a re-read of this receiver's pending entries stops after the first
large one (the script's FETCH_BYTES check, with no 'more' in the reply since it carries one
entry), and since commit 2218f7d (as before it) ``_orphans`` is then cleared because the reply
was shorter than ``count``. The entries behind it stay pending under this receiver (XPENDING)
and nothing re-reads them: not its own next receive (it reads new entries only), not its
peers (its lease thread gives back only while ``_holds()``), and ``RecvError`` never comes.

Promise (mpsc.redis docstring): "A receiver that has not received for IDLE (10 ms) gives what
it fetched and did not hand out back to the other receivers (... also what a fetch cut short
or a reply cut at about 4 MB left pending under it ...), so an idle or busy worker withholds
nothing from its peers"; "Exactly once while nobody dies"; "receivers drain what is there and
get RecvError".

What happens (unbounded channel, no interrupt, no fault): rx1 (batch 16 after a few quick
receives) fetches 3 small + 4 large entries, is cut at the first large one ('more'), hands out
one and idles: its lease thread gives the rest back (to FREE). rx2 claims three large entries
at once (reply cut: 'more', _orphans True), hands one out, then re-reads: the re-read stops
after one 5 MB entry, reply without 'more', 1 < count: _orphans = False. The last large
entry stays pending under rx2 for good: rx2.recv_timeout and rx3.recv_timeout time out, and
after the Sender closed both still get Timeout, not RecvError. Deterministic.

Exit 1 while the defect shows.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
tx, rx1 = mpsc.redis.unbounded(srv.url, name="big")
rx2 = rx1.clone()
rx3 = rx1.clone()
BIG = 5 * 1024 * 1024
small = [("s", i) for i in range(10)]
large = [("L", i, b"x" * BIG) for i in range(4)]
for v in small + large:
    tx.send(v)
got: list[tuple[str, int]] = []
for _ in range(8):  # quick receives: rx1's batch grows to 16
    got.append(rx1.recv()[:2])
time.sleep(0.3)  # rx1 idles: its lease thread gives back what it holds
for r in (rx2, rx2, rx2, rx2, rx2, rx2, rx3):
    try:
        got.append(r.recv_timeout(1.0)[:2])
    except mpsc.Timeout:
        pass
missing = [v[:2] for v in small + large if v[:2] not in got]
pending = srv.command("XINFO", "CONSUMERS", tx._lease.keys.stream, "rx")
print("received:", got)
print("missing:", missing)
print("XINFO CONSUMERS:", [(c.get(b"name", c.get("name")), c.get(b"pending", c.get("pending"))) for c in pending], "(rx2's consumer is", rx2._lease.id + ")")
tx.close()
after = []
for r in (rx3, rx2):
    try:
        after.append(repr(r.recv_timeout(1.0)[:2]))
    except Exception as e:
        after.append(type(e).__name__)
print("after the Sender closed, rx3 and rx2 get:", after)
if missing:
    print("DEFECT: an entry is withheld under rx2 (pending, never re-read, no RecvError)")
    sys.exit(1)
print("ok")
