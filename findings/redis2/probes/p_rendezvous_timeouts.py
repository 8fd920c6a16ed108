import sys, time, threading, random
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis
srv = server()
tx, rx = mpsc.redis.bounded(srv.url, 0)
DUR = float(sys.argv[1]) if len(sys.argv) > 1 else 15
stop = time.monotonic() + DUR
sent_ok, sent_fail, got = [], [], []
lock = threading.Lock()
def prod(k):
    t = tx.clone()
    i = 0
    while time.monotonic() < stop:
        v = (k, i); i += 1
        r = random.random()
        try:
            if r < 0.3: t.try_send(v)
            else: t.send_timeout(v, random.choice([0, 0.001, 0.01, 0.05, 0.2]))
            with lock: sent_ok.append(v)
        except (mpsc.Full, mpsc.Timeout):
            with lock: sent_fail.append(v)
    t.close()
def cons():
    r = rx.clone()
    while time.monotonic() < stop + 3:
        try:
            if random.random() < 0.3: v = r.try_recv()
            else: v = r.recv_timeout(random.choice([0, 0.001, 0.01, 0.05, 0.2]))
            with lock: got.append(v)
        except (mpsc.Empty, mpsc.Timeout):
            pass
        except mpsc.RecvError:
            break
    r.close()
ths = [threading.Thread(target=prod, args=(k,)) for k in range(3)] + [threading.Thread(target=cons) for _ in range(3)]
for t in ths: t.start()
tx.close()
for t in ths: t.join(30)
alive = [t for t in ths if t.is_alive()]
rx.close()
from collections import Counter
c = Counter(got)
dups = [v for v, n in c.items() if n > 1]
lost = set(sent_ok) - set(got)
ghost = set(got) & set(sent_fail)
print(f"sent ok {len(sent_ok)} failed {len(sent_fail)} got {len(got)} dups {len(dups)} lost {len(lost)} ghosts(received though send raised) {len(ghost)} alive {len(alive)}")
print("dups", dups[:5], "lost", sorted(lost)[:5], "ghost", sorted(ghost)[:5])
sys.exit(1 if dups or lost or ghost or alive else 0)
