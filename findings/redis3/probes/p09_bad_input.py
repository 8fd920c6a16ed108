import os, sys, math, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
url = srv.url
def tryit(label, f):
    t0 = time.monotonic()
    try:
        r = f(); print(f"{label}: returned {r!r} ({time.monotonic()-t0:.2f}s)")
    except BaseException as e:
        print(f"{label}: {type(e).__name__}: {str(e)[:100]} ({time.monotonic()-t0:.2f}s)")
tx, rx = mpsc.redis.bounded(url, 2)
for t in (float("nan"), -0.0, -1, "1", None, True):
    tryit(f"recv_timeout({t!r})", lambda: rx.recv_timeout(t))
    tryit(f"send_timeout(v, {t!r})", lambda: tx.send_timeout(1, t))
for d in (float("nan"), float("-inf"), time.monotonic() - 1, None, "x"):
    tryit(f"recv_deadline({d!r})", lambda: rx.recv_deadline(d))
    tryit(f"send_deadline({d!r})", lambda: tx.send_deadline(1, d) if hasattr(tx, "send_deadline") else None)
for cap in (2**63, 2**64, 10**30, 2**53 + 1):
    tryit(f"bounded(url, {cap})", lambda: (lambda p: (p[0].send(1), len(p[0]), p[1].recv(), p[0].is_full()))(mpsc.redis.bounded(url, cap)))
for lease in (0.1, 3600, 0.0999, float("inf")):
    tryit(f"channel(lease={lease})", lambda: (lambda p: (p[0].send(1), p[1].recv()))(mpsc.redis.channel(url, lease=lease)))
tryit("send_many([])", lambda: tx.send_many([]))
tryit("send_many(iter(range(5))) on bounded(2)", lambda: tx.send_many(iter(range(5))))
tryit("len", lambda: len(tx))
tryit("send_many gen raising", lambda: tx.send_many((1/0 for _ in range(1))))
print("len after", len(rx), [rx.try_recv() for _ in range(len(rx))])
