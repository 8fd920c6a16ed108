"""Real SIGALRM (one per trial, at a random instant 0-1.5 ms into recv_timeout): how often does
the interrupted receive leave its fetched entry pending under the handle, unbuffered (finding 03)?"""
import os, sys, time, random, signal
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
cap = None if sys.argv[1] == "u" else int(sys.argv[1])
tx, rx = mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap)
def handler(s, f): raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
orphaned = interrupted = 0
for trial in range(300):
    tx.send(trial)
    time.sleep(0.02)  # idle: unbounded fetches 1
    v = None
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0001, 0.0015))
            v = rx.recv_timeout(1)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except KeyboardInterrupt:
        interrupted += 1
    if v is None:
        cons = [c for c in srv.command("XPENDING", rx.name, "rx")["consumers"] if c["name"] == rx._lease.id.encode()]
        if cons and not rx._buf:
            orphaned += 1
        try:
            while True:
                rx.try_recv()
        except (mpsc.Empty, KeyboardInterrupt):
            pass
print(f"cap={cap}: {interrupted} receives interrupted by a real SIGALRM; {orphaned} left the entry pending under the handle, unbuffered")
