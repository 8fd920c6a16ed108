import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
tx, r1 = mpsc.redis.channel(srv.url)
r2 = r1.clone()
big = 3 * 1024 * 1024
for i in range(8):
    tx.send((i, b"x" * big))
got1 = []
for k in range(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
    got1.append(r1.recv()[0])
print("r1 got", got1, "buffered", len(r1._buf), "orphans", r1._orphans)
time.sleep(0.1)
print("XPENDING", srv.command("XPENDING", r1.name, "rx"))
tx.close()
got2 = []
try:
    while True:
        got2.append(r2.recv_timeout(2)[0])
except mpsc.Timeout:
    print("r2 got", got2, "then Timeout (no RecvError): withheld by idle r1")
except mpsc.RecvError:
    print("r2 got", got2, "then RecvError")
