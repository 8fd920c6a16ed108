"""SignalInjector at every check point of r1.recv_timeout(5); then r1 idles (open). Are the
entries left pending under r1 (not handed out) given back to r2 within 0.5 s?"""
import os, sys, time
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from _srv import server
import mpsc, mpsc.redis
from checkpoints import SignalInjector, NOT_RETURNED, Injected, quietly

srv = server(persist=False)
cap = None if sys.argv[1] == "u" else int(sys.argv[1])
tx, r1 = mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap)
r2 = r1.clone()
stuck_points = []
n = 0
total_lost = 0
while True:
    n += 1
    vals = [(n, i) for i in range(3)]
    for v in vals: tx.send(v)
    inj = SignalInjector(n, 10**9)
    result, exc = quietly(inj, lambda: r1.recv_timeout(5))
    got = [] if result is NOT_RETURNED else [result]
    # r1 idles now; r2 receives what it can within 0.5 s
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5 and len(got) < 3:
        try:
            got.append(r2.recv_timeout(0.05))
        except mpsc.Timeout:
            pass
    if len(got) < 3:
        pend = [c for c in (srv.command("XPENDING", r1.name, "rx")["consumers"]) if c["name"] == r1._lease.id.encode()]
        stuck_points.append((n, inj.where.strip(), len(got), len(pend)))
        # r1's next receive gets them
        while len(got) < 3:
            got.append(r1.recv_timeout(2))
    if sorted(got) != vals:
        print("MISMATCH", n, got); total_lost += 1
    if not inj.fired:
        break
    if n > 3000:
        break
print(f"cap={cap}: {n} points; entries withheld by idle r1 at {len(stuck_points)} points")
for s in stuck_points[:15]:
    print("  ", s)
sys.exit(1 if stuck_points or total_lost else 0)
