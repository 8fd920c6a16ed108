import sys, time, asyncio, random, threading
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
from collections import Counter
srv = server()
ta, ra = mr.channel(srv.url)
tb, rb = mr.bounded(srv.url, 2)
tc, rc = mpsc.bounded(2)
N = 1500
def prod(t, tag):
    for i in range(N):
        t.send((tag, i))
        if i % 50 == 0: time.sleep(0.005)
    t.close()
got = []; lock = threading.Lock()
async def sel():
    a, b, c = ra.clone(), rb.clone(), rc.clone()
    done = 0
    while True:
        try:
            i, v = await asyncio.wait_for(mpsc.select_async(a, b, c), random.choice([0.0005, 0.002, 0.02]))
            got.append(v)
        except asyncio.TimeoutError:
            pass
        except mpsc.RecvError:
            break
        if len(got) >= 3 * N: break
    for h in (a, b, c): h.close()
async def main():
    await asyncio.wait_for(asyncio.gather(sel(), sel()), 60)
ths = [threading.Thread(target=prod, args=x) for x in ((ta, "a"), (tb, "b"), (tc, "c"))]
for t in ths: t.start()
try:
    asyncio.run(main())
except Exception as e:
    print("main:", type(e).__name__, e)
# drain leftovers (c first: its producer may be blocked on it)
while True:
    try: got.append(rc.recv_timeout(2))
    except (mpsc.Timeout, mpsc.RecvError): break
for t in ths: t.join(10)
for r in (ra, rb):
    while True:
        try: got.append(r.recv_timeout(2))
        except (mpsc.RecvError, mpsc.Timeout): break
while True:
    try: got.append(rc.try_recv())
    except (mpsc.Empty, mpsc.RecvError): break
c = Counter(got)
exp = {(g, i) for g in "abc" for i in range(N)}
print("got", len(got), "dups", sum(1 for v in c.values() if v > 1), "lost", len(exp - set(c)), sorted(exp - set(c))[:5])
