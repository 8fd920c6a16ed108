"""As 02, tracing the lease thread's give-backs around a spurious Empty (wrappers outside the library's locks)."""
import os, sys, time, random, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
from mpsc.redis import _handles
orig = _handles.Receiver._give_back
log = []
def traced(self):
    t0 = time.monotonic(); idle = t0 - self._last; nb = len(self._buf)
    r = orig(self)
    log.append((t0, time.monotonic(), r, idle, nb))
    return r
_handles.Receiver._give_back = traced
srv = server()
tx, rx = mpsc.redis.unbounded(srv.url, name="t")
end = time.monotonic() + float(sys.argv[1])
sent = recvd = rounds = 0
hits = []
while time.monotonic() < end:
    rounds += 1
    for _ in range(12):
        tx.send(sent); sent += 1
    for _ in range(random.randint(2, 6)):
        rx.recv_timeout(2); recvd += 1
    time.sleep(random.uniform(0.008, 0.012))
    while recvd < sent:
        t0 = time.monotonic()
        try:
            rx.try_recv()
        except mpsc.Empty as e:
            t1 = time.monotonic()
            near = [(round((a-t0)*1e6), round((b-t0)*1e6), r, round(i*1e3,2), nb) for a, b, r, i, nb in log[-5:]]
            hits.append((round((t1-t0)*1e6), near))
            print("Empty after us", round((t1-t0)*1e6), "give-backs (start,end us rel. to try_recv start, result, idle ms, buf):", near, flush=True)
            break
        recvd += 1
    while recvd < sent:
        rx.recv_timeout(2); recvd += 1
    del log[:-10]
print(sys.version.split()[0], "rounds", rounds, "hits", len(hits))
