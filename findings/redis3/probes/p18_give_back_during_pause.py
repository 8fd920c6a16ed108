"""The lease thread's give-back (GIVE) runs while the server is paused 0.8 s (> GRACE): the
idle receiver's buffer is cleared, its entries left pending under it -- withheld while it idles?"""
import os, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
tx, r1 = mpsc.redis.channel(srv.url)
r2 = r1.clone()
for i in range(20): tx.send(i)
got1 = [r1.recv() for _ in range(4)]  # fetches 1, 2, 4 -> buffer holds some
print("r1 got", got1, "buffered", len(r1._buf))
srv.pause(); time.sleep(0.8); srv.resume()
time.sleep(0.2)
print("r1 buffered after the pause", len(r1._buf), "orphans", r1._orphans)
tx.close()
got2 = []
try:
    while True: got2.append(r2.recv_timeout(2))
except mpsc.RecvError: end = "RecvError"
except mpsc.Timeout: end = "Timeout"
print("r2 got", sorted(got2), "then", end)
print("missing", sorted(set(range(20)) - set(got1) - set(got2)))
sys.exit(1 if end != "RecvError" else 0)
