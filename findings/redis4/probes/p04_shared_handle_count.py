"""K threads share one Receiver (try_recv / recv_timeout / recv), one more thread a clone, a sender
with pauses so the lease thread gives back: every value exactly once? Channel kind by argv."""
import os, sys, time, random, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
kind = sys.argv[1]; DUR = float(sys.argv[2])
srv = server()
if kind == "u":
    tx, rx = mpsc.redis.unbounded(srv.url, name="c")
else:
    tx, rx = mpsc.redis.bounded(srv.url, int(kind), name="c")
rx2 = rx.clone()
got = []; lock = threading.Lock(); errors = []
def recv_loop(r, k):
    rnd = random.Random(k)
    while True:
        m = rnd.random()
        try:
            if m < 0.4:
                v = r.try_recv()
            elif m < 0.8:
                v = r.recv_timeout(rnd.uniform(0, 0.02))
            else:
                v = r.recv()
        except (mpsc.Empty, mpsc.Timeout):
            if rnd.random() < 0.3: time.sleep(rnd.uniform(0, 0.015))
            continue
        except mpsc.RecvError:
            return
        except Exception as e:
            errors.append(repr(e)); return
        with lock: got.append(v)
        if rnd.random() < 0.2: time.sleep(rnd.uniform(0, 0.015))
ths = [threading.Thread(target=recv_loop, args=(rx, k), daemon=True) for k in range(6)]
ths.append(threading.Thread(target=recv_loop, args=(rx2, 99), daemon=True))
for t in ths: t.start()
n = 0; end = time.monotonic() + DUR
while time.monotonic() < end:
    for _ in range(random.randint(1, 30)):
        tx.send(n); n += 1
    time.sleep(random.uniform(0, 0.02))
tx.close()
for t in ths: t.join(20)
alive = sum(t.is_alive() for t in ths)
s = set(got)
lost = n - len(s); dup = len(got) - len(s)
print(sys.version.split()[0], kind, "sent", n, "got", len(got), "lost", lost, "dup", dup, "alive", alive, "errors", errors[:3], flush=True)
os._exit(1 if lost or dup or alive or errors else 0)
