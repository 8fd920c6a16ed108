import sys, time, os
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
url = srv.url
tx, rx1 = mpsc.redis.unbounded(url, name="big")
rx2 = rx1.clone()
L = 5 * 1024 * 1024
small = [("s", i) for i in range(10)]
large = [("L", i, b"x" * L) for i in range(4)]
for v in small: tx.send(v)
for v in large: tx.send(v)
got = []
def tag(v): return v[:2]
for i in range(8):
    got.append(tag(rx1.recv()))
    print("rx1", got[-1], "batch", rx1._batch, "orph", rx1._orphans, "buf", len(rx1._buf))
time.sleep(0.3)
print("rx1 after idle: buf", len(rx1._buf), "orph", rx1._orphans)
print(srv.command("XPENDING", "mpsc:{big}:s", "rx") if False else "")
while True:
    try:
        v = rx2.recv_timeout(1.0)
    except mpsc.Timeout:
        print("rx2 Timeout"); break
    got.append(tag(v))
    print("rx2", got[-1], "batch", rx2._batch, "orph", rx2._orphans, "buf", len(rx2._buf))
missing = [tag(v) for v in small + large if tag(v) not in got]
print("missing", missing)
tx.close()
for r in (rx2, rx1):
    try:
        v = r.recv_timeout(1.0); print("late got", tag(v))
    except Exception as e:
        print(type(e).__name__)
