"""Finding 03: a receive interrupted (Ctrl-C) during its fetch's round trip leaves the fetched
entries pending under its handle; while that handle stays open and idle they are withheld from
every other receiver for good: on a bounded channel their room too, and RecvError never comes.

Promise (mpsc.redis docstring, "Exactly once"): "A receiver that has not received for ``IDLE``
(10 ms) gives what it fetched and did not hand out back to the other receivers (its lease
thread does), so an idle or busy worker withholds nothing from its peers." And "An interrupt
never costs a message ... an exception landing ... before it leaves the entry where it was
(buffered, or pending under this handle and re-read by its next receive)" -- re-read by *its
next receive* only: the lease thread watches a handle for give-back only when its *buffer* is
non-empty (``Receiver._leave``: ``if self._buf and not lease.watched``), and entries a cut-short
fetch left pending on the server (``_orphans``) are not in the buffer.

What happens (bounded(1), two receivers r1 and r2 of one channel; the interrupt is the
project's own ``tests/checkpoints.SignalInjector``, a real signal handler raising
KeyboardInterrupt at one CPython check point inside ``r1.recv_timeout(5)``, chosen as the first
point after which the fetched entry is pending under r1 and not buffered -- in redis-py, right
after the fetch's command was written to the socket (point 68 in my runs)): the caller catches the KeyboardInterrupt and keeps r1 open without
receiving (a REPL user, a worker that pauses on Ctrl-C). Then for as long as the script
watches (3 s, 300 x IDLE): r2.recv_timeout(3) raises Timeout; a sender's send_timeout(v, 1)
raises Timeout (the channel stays full); after the last Sender closes, r2.recv_timeout(3) raises
Timeout instead of RecvError. r1's next receive returns the value (nothing is lost: withheld).
The same at 95 of 183 check points of a bounded(5) receive and 139 of 212 of an unbounded one
(probes/p07_interrupt_points_then_idle.py). Deterministic. With a real SIGALRM at a random
instant 0.1-1.5 ms into ``recv_timeout(1)`` (probes/p16_real_signal_orphans.py): 104 of 128
interrupted bounded(1) receives and 124 of 135 unbounded ones left the entry so.

Exits 1 while the defect shows.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from _srv import server  # noqa: E402
from checkpoints import NOT_RETURNED, SignalInjector, quietly  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server(persist=False)


def pending_under(name: str, consumer: str) -> int:
    for c in srv.command("XPENDING", name, "rx")["consumers"]:
        if c["name"] == consumer.encode():
            return int(c["pending"])
    return 0


tx, r1 = mpsc.redis.bounded(srv.url, 1)
r2 = r1.clone()
found = None
for n in range(1, 400):
    tx.send(("v", n))
    inj = SignalInjector(n, 10**9)
    result, exc = quietly(inj, lambda: r1.recv_timeout(5))
    if not inj.fired:
        break
    if result is NOT_RETURNED and not r1._buf and pending_under(r1.name, r1._lease.id) > 0:
        found = (n, inj.where.strip())
        break
    # (not this point: take the value back, whoever has it, and try the next point)
    if result is NOT_RETURNED:
        r1.recv_timeout(5)
if found is None:
    print("no check point left the fetched entry pending under r1 unbuffered: not reproduced")
    sys.exit(0)
print(f"interrupt at check point {found[0]} ({found[1]}): the entry is pending under r1, r1 idles")
bad = []
t0 = time.monotonic()
try:
    v = r2.recv_timeout(3)
    print("r2 got", v)
except mpsc.Timeout:
    bad.append(
        f"r2.recv_timeout(3) raised Timeout after {time.monotonic() - t0:.1f} s (r1 idle, holding the entry)"
    )
try:
    tx.send_timeout("x", 1)
    print("a send found room")
    sent_x = True
except mpsc.Timeout:
    sent_x = False
    bad.append("tx.send_timeout(v, 1) raised Timeout: the channel stays full (its only entry withheld)")
tx.close()
try:
    v = r2.recv_timeout(3)
    print("r2 got", v)
except mpsc.RecvError:
    print("r2 RecvError")
except mpsc.Timeout:
    bad.append("after the last Sender closed, r2.recv_timeout(3) raised Timeout, not RecvError")
print("r1's next receive:", r1.recv_timeout(3))
for b in bad:
    print("DEFECT:", b)
sys.exit(1 if bad else 0)
