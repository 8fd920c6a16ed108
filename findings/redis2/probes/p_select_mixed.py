import sys, time, threading, random
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis
from collections import Counter
srv = server()
DUR = float(sys.argv[1]) if len(sys.argv) > 1 else 15
ta, ra = mpsc.redis.channel(srv.url, lease=0.5)
tb, rb = mpsc.redis.bounded(srv.url, 2)
tc, rc = mpsc.bounded(3)
td, rd = mpsc.redis.bounded(srv.url, 1)
stop = time.monotonic() + DUR
lock = threading.Lock()
recv = []; dsent = []; dgot = []
def prod(t, tag):
    t = t.clone(); i = 0
    while time.monotonic() < stop:
        t.send((tag, i)); i += 1
        time.sleep(random.choice([0, 0, 0.001, 0.01]))
    t.close()
    return i
counts = {}
def prodw(t, tag): counts[tag] = prod(t, tag)
def selector(k):
    a, b, d = ra.clone(), rb.clone(), td.clone()
    c = rc.clone()
    j = 0
    while time.monotonic() < stop + 2:
        ops = [a, b, c, (d, (k, j)), mpsc.after(random.choice([0, 0.001, 0.05]))]
        try:
            i, v = mpsc.select(*ops, timeout=random.choice([0.01, 0.1, 0.5]))
        except mpsc.Timeout:
            continue
        except mpsc.SelectError if hasattr(mpsc, "SelectError") else mpsc.RecvError:
            break
        if i in (0, 1, 2):
            with lock: recv.append(v)
        elif i == 3:
            with lock: dsent.append((k, j)); j += 1
    for h in (a, b, c, d): h.close()
def dcons():
    while True:
        try:
            dgot.append(rd.recv_timeout(0.2))
        except mpsc.Timeout:
            if time.monotonic() > stop + 4: break
        except mpsc.RecvError:
            break
ths = [threading.Thread(target=prodw, args=(t, g)) for t, g in ((ta, "a"), (tb, "b"), (tc, "c"))]
ths += [threading.Thread(target=selector, args=(k,)) for k in range(3)]
dc = threading.Thread(target=dcons)
for t in ths: t.start()
dc.start()
ta.close(); tb.close(); tc.close(); td.close()
for t in ths: t.join(40)
dc.join(20)
# drain leftovers
for r in (ra, rb):
    while True:
        try: recv.append(r.recv_timeout(3))
        except (mpsc.RecvError, mpsc.Timeout) as e: 
            if isinstance(e, mpsc.Timeout): print("drain timeout on", r)
            break
while True:
    try: recv.append(rc.try_recv())
    except (mpsc.Empty, mpsc.RecvError): break
ra.close(); rb.close(); rc.close(); rd.close()
alive = [t for t in ths + [dc] if t.is_alive()]
exp = Counter([(g, i) for g, n in counts.items() for i in range(n)])
got = Counter(recv)
dup = [v for v, n in got.items() if n > 1]; lost = set(exp) - set(got); extra = set(got) - set(exp)
dd = Counter(dgot); ddup = [v for v, n in dd.items() if n > 1]
dlost = set(dsent) - set(dgot); dghost = set(dgot) - set(dsent)
print("counts", counts, "recv", len(recv), "dup", len(dup), "lost", len(lost), "extra", len(extra))
print("d: sent", len(dsent), "got", len(dgot), "dup", len(ddup), "lost", len(dlost), "ghost", len(dghost), sorted(dghost)[:5], "alive", alive)
print(sorted(lost)[:10], dup[:5])
sys.exit(1 if dup or lost or extra or ddup or dlost or dghost or alive else 0)
