"""Finding 06: on an unbounded channel of large messages (a few MB each), the entries a fetch's
reply was cut off from (the ~4 MB reply limit: 'more') stay pending under the receiver that
fetched them; once that receiver has handed out what it buffered and idles, they are withheld
from every other receiver -- and RecvError with them -- until it receives again or closes.
No interrupt, no fault: the same cause as finding 03 (the lease thread watches a receiver for
give-back only while its *buffer* holds entries; ``Receiver._leave``/``_give_back``), reached by
ordinary use.

Promise (mpsc.redis docstring, "Exactly once"): "A receiver that has not received for ``IDLE``
(10 ms) gives what it fetched and did not hand out back to the other receivers (its lease
thread does), so an idle or busy worker withholds nothing from its peers."; "Disconnection:
... Then receivers drain what is there and get ``RecvError``". (RECV: "what is cut off stays
pending under this consumer, and 'more' tells it to re-read them next" -- only *its* next
fetch does.)

What happens: 8 messages of 3 MB on an unbounded channel, receivers r1 and r2. r1 receives 5
in a row (fetches of 1, 2, then 4 entries: the third fetch read entries 3, 4, 5 -- 9 MB -- and
its reply was cut after 3 and 4, leaving 5 pending under r1) and then works on them (idles: 3
s here). r2 receives 6 and 7, then ``recv_timeout(2)`` raises Timeout; after the Sender closed,
r2 still gets Timeout, never message 5 nor RecvError, for as long as r1 idles. XPENDING shows
the entry under r1's consumer. r1's next receive returns it. Deterministic.

Exits 1 while the defect shows.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server

import mpsc
import mpsc.redis

srv = server(persist=False)
tx, r1 = mpsc.redis.channel(srv.url)
r2 = r1.clone()
big = b"x" * (3 * 1024 * 1024)
for i in range(8):
    tx.send((i, big))
got1 = [r1.recv()[0] for _ in range(5)]
print(f"r1 received {got1} and now works on them (idle); its buffer holds {len(r1._buf)}")
time.sleep(0.05)
print("XPENDING:", srv.command("XPENDING", r1.name, "rx"))
tx.close()
got2 = []
outcome = ""
t0 = time.monotonic()
try:
    while True:
        got2.append(r2.recv_timeout(3)[0])
except mpsc.Timeout:
    outcome = f"Timeout after {time.monotonic() - t0:.1f} s"
except mpsc.RecvError:
    outcome = "RecvError"
print(f"r2 (Sender closed meanwhile) received {got2}, then {outcome}")
rest = []
try:
    while True:
        rest.append(r1.recv_timeout(3)[0])
except (mpsc.RecvError, mpsc.Timeout):
    pass
print(f"r1's next receives return {rest}")
bad = outcome != "RecvError" or sorted(got1 + got2 + rest) != list(range(8)) or 5 not in got2
if bad:
    print("DEFECT: message 5 was withheld by the idle r1 (and r2 got no RecvError)")
sys.exit(1 if bad else 0)
