import os, sys, time
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE); sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from _srv import server
from checkpoints import SignalInjector, NOT_RETURNED, quietly
import mpsc, mpsc.redis
srv = server(persist=False)
tx, rx = mpsc.redis.bounded(srv.url, 0)
hits = []
for n in range(int(sys.argv[1]), int(sys.argv[2])):
    inj = SignalInjector(n, 10**9)
    # no receiver waiting: send posts an offer and waits (1.5 s per untimed wait slice)
    result, exc = quietly(inj, lambda: tx.send_timeout(("v", n), 0.2))
    if not inj.fired:
        print("last point", n); break
    if True: print(n, inj.where.strip(), type(exc).__name__)
    if exc is None or isinstance(exc, mpsc.Timeout):
        continue
    try:
        v = rx.recv_timeout(0.3)
        hits.append((n, inj.where.strip(), v))
    except mpsc.Timeout:
        pass
print(len(hits), "points where the interrupted send's value was received afterwards")
for h in hits[:40]: print("  ", h)
