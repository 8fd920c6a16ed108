"""Rendezvous: interrupt r1.recv_timeout(0.05) at each check point; then (r1 idle, no receiver
in recv) does tx.try_send succeed? where does the value go?"""
import os, sys, time
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE); sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from _srv import server
from checkpoints import SignalInjector, NOT_RETURNED, quietly
import mpsc, mpsc.redis
srv = server(persist=False)
tx, r1 = mpsc.redis.bounded(srv.url, 0)
r2 = r1.clone()
hits = []
for n in range(1, 300):
    inj = SignalInjector(n, 10**9)
    result, exc = quietly(inj, lambda: r1.recv_timeout(0.05))
    if not inj.fired:
        break
    try:
        tx.try_send(n)
        hits.append((n, inj.where.strip()))
        # r2 tries for 0.3 s
        try:
            v = r2.recv_timeout(0.3); hits[-1] += ("r2 got",)
        except mpsc.Timeout:
            v = r1.recv_timeout(2); hits[-1] += ("withheld; r1 later got %r" % (v,),)
    except mpsc.Full:
        pass
print(f"{n} points; try_send succeeded with nobody in recv after {len(hits)} of them")
for h in hits[:10]: print("  ", h)
sys.exit(1 if hits else 0)
