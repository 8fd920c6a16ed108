"""Finding 04: a rendezvous ``recv()`` interrupted (Ctrl-C) between its announcing fetch and
its wait leaves its announcement on the server: for up to two leases a ``try_send``/``send``
"hands" its value to that receiver, which is not receiving, and the value is then withheld
from every other receiver for as long as that handle stays open and idle.

Promise (mpsc.redis docstring, "Rendezvous"): "``send`` returns only once a receiver has taken
the value ...; ``try_send`` succeeds only if a receiver is waiting in ``recv`` right now, else
``Full``"; "A receiver that will wait announces itself (until its wait ends, ...)"; "A
receive that timed out takes its announcement back in its last look"; and "An interrupt never
costs a message" / "an idle or busy worker withholds nothing from its peers".

What happens: r1 and r2 receive on one rendezvous channel. An interrupt lands in ``r1.recv()``
at a CPython check point after the fetch that announced r1 (status 'empty') and before the
XREAD wait step (``_recv_steps``: computing the block time, building the XREAD command; the
project's ``tests/checkpoints.SignalInjector``, a real signal handler) -- the exception leaves
the algorithm directly, not through a step, so nothing takes the announcement back (an
interrupt *inside* the wait does: ``Abandoned``, last look). The caller catches it and keeps
r1 open. Then ``tx.try_send(v)`` succeeds (nobody is in ``recv``): RV_SEND read the value
into r1's pending entries. r2.recv_timeout(2) raises Timeout; after the Sender closes, r2 gets
Timeout instead of RecvError (the entry is pending under r1, which is alive); r1's buffer is
empty, so the lease thread never gives it back. r1's next receive returns it. About 14 of ~300
check points of a ``recv_timeout(0.05)`` (probes/p08_rendezvous_interrupted_announce.py).
Deterministic for the point found.

Exits 1 while the defect shows.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from _srv import server  # noqa: E402
from checkpoints import SignalInjector, quietly  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server(persist=False)
tx, r1 = mpsc.redis.bounded(srv.url, 0)
r2 = r1.clone()
found = None
for n in range(100, 400):
    inj = SignalInjector(n, 10**9)
    result, exc = quietly(inj, lambda: r1.recv_timeout(0.05))
    if not inj.fired:
        break
    try:
        tx.try_send(("v", n))
    except mpsc.Full:
        continue
    found = (n, inj.where.strip())
    break
if found is None:
    print("no check point left an announcement behind: not reproduced")
    sys.exit(0)
print(f"interrupt at check point {found[0]} ({found[1]}); r1 idles, nobody is in recv")
print("DEFECT: tx.try_send(v) succeeded although no receiver was waiting in recv")
bad = 1
try:
    print("r2 got", r2.recv_timeout(2))
except mpsc.Timeout:
    print("DEFECT: r2.recv_timeout(2) raised Timeout: the value sits pending under the idle r1")
    bad += 1
tx.close()
try:
    print("r2 got", r2.recv_timeout(3))
except mpsc.RecvError:
    print("r2: RecvError")
except mpsc.Timeout:
    print("DEFECT: after the Sender closed, r2.recv_timeout(3) raised Timeout, not RecvError")
    bad += 1
print("r1's next receive returns it:", r1.recv_timeout(3))
sys.exit(1 if bad else 0)
