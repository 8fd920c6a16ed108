"""Probe: as p_pause_timed, server SIGKILLed and restarted (AOF) after 2 s. usage: p_restart_timed.py none|CAP"""
import sys, time, threading, collections
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
cap = None if sys.argv[1] == "none" else int(sys.argv[1])
srv = server(persist=True)
tx, rx = mr.channel(srv.url) if cap is None else mr.bounded(srv.url, cap)
ok, fail, got = [], [], []
slow = collections.Counter(); errs = collections.Counter()
stop = threading.Event()
def prod(p, s):
    i = 0
    with s:
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                s.send_timeout((p, i), 0.1); ok.append((p, i))
            except (mpsc.Timeout, mr.ConnectionError) as e:
                fail.append((p, i)); errs[type(e).__name__] += 1
            d = time.monotonic() - t0
            if d > 0.1 + 0.5 + 0.3: slow[f"send {d:.1f}"] += 1
            i += 1
def cons(r):
    with r:
        while True:
            t0 = time.monotonic()
            try:
                got.append(r.recv_timeout(0.1))
            except mpsc.Timeout: errs["rTimeout"] += 1
            except mpsc.RecvError: return
            except mr.ConnectionError: errs["rConn"] += 1
            d = time.monotonic() - t0
            if d > 0.1 + 0.5 + 0.3: slow[f"recv {d:.1f}"] += 1
ss = [tx.clone() for _ in range(2)]; rs = [rx.clone() for _ in range(2)]
tx.close(); rx.close()
ts = [threading.Thread(target=prod, args=(k, s)) for k, s in enumerate(ss)] + [threading.Thread(target=cons, args=(r,)) for r in rs]
for t in ts: t.start()
time.sleep(1)
srv.kill(); time.sleep(2); srv.start()
time.sleep(1.5)
stop.set()
for t in ts: t.join(20)
c = collections.Counter(got)
dups = [k for k, v in c.items() if v > 1]; lost = set(ok) - set(got); ghost = set(fail) & set(got)
print(f"cap {cap}: ok {len(ok)} fail {len(fail)} {dict(errs)} got {len(got)} dups {len(dups)} lost {len(lost)} {sorted(lost)[:4]} ghost {len(ghost)} {sorted(ghost)[:4]} slow {dict(slow)} hung {[t for t in ts if t.is_alive()]}")
