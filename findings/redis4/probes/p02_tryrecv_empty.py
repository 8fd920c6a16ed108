"""One thread, one handle: try_recv must never say Empty while sent > received."""
import os, sys, time, random
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
tx, rx = mpsc.redis.unbounded(srv.url, name="t")
DUR = float(sys.argv[1]) if len(sys.argv) > 1 else 20
end = time.monotonic() + DUR
sent = recvd = 0
empties = 0
seen = set()
dups = 0
rounds = 0
while time.monotonic() < end:
    rounds += 1
    for _ in range(20):
        tx.send(sent); sent += 1
    # quick receives so the batch grows and the buffer holds entries
    for _ in range(random.randint(1, 6)):
        v = rx.try_recv() if False else rx.recv_timeout(1)
        dups += v in seen; seen.add(v); recvd += 1
    time.sleep(random.uniform(0.007, 0.013))  # about IDLE: meet the lease thread's give-back
    while recvd < sent:
        try:
            v = rx.try_recv()
        except mpsc.Empty as e:
            empties += 1
            print("Empty:", getattr(e, "marks", None), "buf", len(rx._buf), "orph", rx._orphans, "owner", rx._owner, "idle", time.monotonic()-rx._last, "left", sent-recvd)
            break
        dups += v in seen; seen.add(v); recvd += 1
    while recvd < sent:
        v = rx.recv_timeout(2); dups += v in seen; seen.add(v); recvd += 1
print(f"{sys.version.split()[0]} rounds={rounds} sent={sent} recvd={recvd} dups={dups} spurious Empty={empties} lost={sent-len(seen)}")
sys.exit(1 if empties or dups or sent != len(seen) else 0)
