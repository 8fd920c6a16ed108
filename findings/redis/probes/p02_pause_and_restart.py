"""Probe: SIGSTOP/SIGCONT and SIGKILL+restart (persistence) of the server under load; counts every
message: a send that returned must arrive exactly once, one that raised must not arrive.
usage: p02 pause|kill SECONDS CAP"""
import os, sys, threading, time, collections
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr

mode, secs = sys.argv[1], float(sys.argv[2])
cap = None if sys.argv[3] == "none" else int(sys.argv[3])
srv = server(persist=True)
tx, rx = mr.channel(srv.url) if cap is None else mr.bounded(srv.url, cap)
P = 3
ok = collections.defaultdict(list); failed = collections.defaultdict(list); errs = collections.Counter()
stop = threading.Event()
def prod(p, s):
    i = 0
    with s:
        while not stop.is_set():
            try:
                s.send((p, i)); ok[p].append(i)
            except mr.ConnectionError as e:
                failed[p].append(i); errs[type(e).__name__] += 1
            except mpsc.Timeout:
                failed[p].append(i); errs["Timeout"] += 1
            i += 1
got = []; per = collections.defaultdict(list); rerrs = collections.Counter()
def cons(r):
    with r:
        while True:
            try:
                v = r.recv(); got.append(v); per[id(r)].append(v)
            except mpsc.RecvError:
                return
            except mr.ConnectionError as e:
                rerrs[type(e).__name__] += 1
senders = [tx.clone() for _ in range(P)]; tx.close()
rxs = [rx.clone() for _ in range(2)]; rx.close()
ts = [threading.Thread(target=prod, args=(p, s)) for p, s in enumerate(senders)]
cs = [threading.Thread(target=cons, args=(r,)) for r in rxs]
for t in ts + cs: t.start()
time.sleep(1)
if mode == "pause":
    srv.pause(); time.sleep(secs); srv.resume()
else:
    srv.kill(); time.sleep(secs); srv.start()
time.sleep(2)
stop.set()
for t in ts: t.join(20)
for t in cs: t.join(20)
alive = [t for t in ts + cs if t.is_alive()]
c = collections.Counter(got)
dups = [k for k, v in c.items() if v > 1]
lost = [(p, i) for p in ok for i in ok[p] if (p, i) not in c]
ghosts = [(p, i) for p in failed for i in failed[p] if (p, i) in c]
fifo = all([i for (q, i) in L if q == p] == sorted(i for (q, i) in L if q == p) for p in range(P) for L in per.values())
print(f"{mode} {secs}s cap={cap}: sent ok {sum(map(len, ok.values()))}, failed {dict(errs)}, recv errors {dict(rerrs)}; "
      f"received {len(got)}; dups {len(dups)} {dups[:3]}; lost {len(lost)} {lost[:3]}; raised-but-delivered {len(ghosts)} {ghosts[:3]}; fifo {fifo}; hung {len(alive)}")
