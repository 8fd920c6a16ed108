"""Finding 08: a receiver's give-back (the lease thread's GIVE, IDLE after its last receive) that
meets a server stall longer than GRACE (0.5 s) clears the receiver's buffer and leaves the
entries pending under it: they are withheld from every other receiver (and RecvError with
them) for as long as the receiver idles -- before the stall they were buffered and would have
been given back.

Promise (mpsc.redis docstring): "A receiver that has not received for ``IDLE`` (10 ms) gives
what it fetched and did not hand out back to the other receivers (its lease thread does), so
an idle or busy worker withholds nothing from its peers"; "A paused or restarted server does
not expire anyone"; "Disconnection: ... receivers drain what is there and get ``RecvError``".
(The documented residue "a server paused or cut off for GRACE right after running the fetch"
is about a fetch's lost reply; here the fetch had succeeded and its entries were buffered.)

What happens: unbounded, 20 messages, receivers r1 and r2. r1 receives 4 (its fetches of 1, 2
and 4 leave 3 entries buffered) and then works on them; the server stalls 0.8 s (SIGSTOP, as
a BGSAVE fork of a large dataset, a slow script or a VM hiccup would) just as r1's lease
thread sends GIVE. GIVE gets no reply within GRACE: ``_give_back`` clears the buffer, sets
``_orphans`` and stops watching (``Receiver._give_back``); the 3 entries stay pending under r1.
After the stall r2 receives the other 13 and then Timeout -- also after the Sender closed,
never RecvError -- while r1 idles. Same root cause as 03 and 06. Deterministic (every run).

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
for i in range(20):
    tx.send(i)
got1 = [r1.recv() for _ in range(4)]
print(f"r1 received {got1}; {len(r1._buf)} entries buffered; r1 now works (idles)")
srv.pause()
time.sleep(0.8)
srv.resume()
time.sleep(0.2)
print(
    f"after a 0.8 s server stall: r1 buffers {len(r1._buf)}, XPENDING {srv.command('XPENDING', r1.name, 'rx')}"
)
tx.close()
got2 = []
try:
    while True:
        got2.append(r2.recv_timeout(3))
except mpsc.RecvError:
    end = "RecvError"
except mpsc.Timeout:
    end = "Timeout (after 3 s, the Sender closed)"
missing = sorted(set(range(20)) - set(got1) - set(got2))
print(f"r2 received {sorted(got2)}, then {end}; never received by r2: {missing}")
rest = []
try:
    while True:
        rest.append(r1.recv_timeout(3))
except (mpsc.RecvError, mpsc.Timeout):
    pass
print(f"r1's next receives return {rest}")
sys.exit(0 if end == "RecvError" and not missing else 1)
