import os, sys, time, signal, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
cap = None if sys.argv[1] == "u" else int(sys.argv[1])
tx, r1 = mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap)
r2 = r1.clone()
for i in range(3): tx.send(i)
def handler(s, f): raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
srv.pause()
signal.setitimer(signal.ITIMER_REAL, 0.3)
t0 = time.monotonic()
try:
    v = r1.recv()
    print("r1 got", v)
except KeyboardInterrupt:
    print("r1 interrupted after", round(time.monotonic()-t0, 3))
time.sleep(0.1)
srv.resume()
time.sleep(0.3)
print("XPENDING", srv.command("XPENDING", r1.name, "rx"))
got = []
t0 = time.monotonic()
try:
    while True:
        got.append(r2.recv_timeout(1.0))
except mpsc.Timeout:
    print("r2 Timeout, got", got)
tx.close()
try:
    while True:
        got.append(r2.recv_timeout(3.0))
except mpsc.RecvError:
    print("r2 RecvError; got", got)
except mpsc.Timeout:
    print("r2 Timeout after tx closed (no RecvError), got", got, "XPENDING", srv.command("XPENDING", r1.name, "rx"))
