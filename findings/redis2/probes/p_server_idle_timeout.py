import sys, time, threading
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
srv.command("CONFIG", "SET", "timeout", "1")  # the server closes connections idle for 1 s
tx, rx = mr.bounded(srv.url, 100)
rxs = [rx.clone() for _ in range(8)]
def burst(fn):
    ts = [threading.Thread(target=fn, args=(k,)) for k in range(8)]
    for t in ts: t.start()
    for t in ts: t.join(10)
for i in range(50): tx.send(i)
res = []
burst(lambda k: res.append(rxs[k].recv_timeout(1)))
print("warm-up got", len(res), "idle connections", len(rx._chan.link._idle))
for i in range(50): tx.send(i)
time.sleep(3)
out = []
def timed(k):
    t0 = time.monotonic()
    try: out.append(("got", rxs[k].recv_timeout(0.05), round(time.monotonic() - t0, 3)))
    except mpsc.Timeout: out.append(("Timeout", None, round(time.monotonic() - t0, 3)))
burst(timed)
print(out)
print("len", len(rx), "spurious Timeouts (messages were there):", sum(1 for o in out if o[0] == "Timeout"))
for h in rxs + [tx, rx]: h.close()
