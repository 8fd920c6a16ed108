"""Probe: send_async/recv_async under asyncio.wait_for (0.5-50 ms). usage: p_async_cancel.py none|CAP SECONDS"""
import sys, time, asyncio, random
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis
from collections import Counter
srv = server()
cap = None if sys.argv[1] == "none" else int(sys.argv[1])
DUR = float(sys.argv[2])
tx, rx = mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap)
ok, fail, got = [], [], []
async def prod(k):
    t = tx.clone(); i = 0
    stop = time.monotonic() + DUR
    while time.monotonic() < stop:
        v = (k, i); i += 1
        try:
            await asyncio.wait_for(t.send_async(v), random.choice([0.0005, 0.002, 0.01, 0.05]))
            ok.append(v)
        except asyncio.TimeoutError:
            fail.append(v)
    t.close()
async def cons():
    r = rx.clone()
    while True:
        try:
            got.append(await asyncio.wait_for(r.recv_async(), random.choice([0.0005, 0.002, 0.01, 0.05])))
        except asyncio.TimeoutError:
            pass
        except mpsc.RecvError:
            break
    r.close()
async def main():
    ps = [asyncio.create_task(prod(k)) for k in range(2)]
    cs = [asyncio.create_task(cons()) for _ in range(2)]
    await asyncio.sleep(0.05)
    tx.close()
    await asyncio.wait_for(asyncio.gather(*ps), DUR + 20)
    await asyncio.wait_for(asyncio.gather(*cs), 20)
asyncio.run(main())
rx.close()
c = Counter(got)
dups = [v for v, n in c.items() if n > 1]; lost = set(ok) - set(got); ghost = set(got) & set(fail)
print(f"cap {cap}: ok {len(ok)} fail {len(fail)} got {len(got)} dups {len(dups)} lost {len(lost)} ghost {len(ghost)}", sorted(ghost)[:5], sorted(lost)[:5])
sys.exit(1 if dups or lost or ghost else 0)
