"""close() from another thread while the lease thread gives back (rx1 idle ~IDLE): no hang,
nothing lost/duplicated (rx2 drains after)."""
import os, sys, time, threading, random
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
bad = 0; N = int(sys.argv[1])
for trial in range(N):
    tx, rx1 = mpsc.redis.unbounded(srv.url, name=f"k{trial}")
    rx2 = rx1.clone()
    for i in range(40): tx.send(i)
    got = [rx1.recv() for _ in range(random.randint(3, 8))]
    time.sleep(random.uniform(0.008, 0.013))
    c = threading.Thread(target=rx1.close); c.start()
    try:
        got.append(rx1.try_recv())
    except Exception:
        pass
    c.join(5)
    if c.is_alive(): print("close hung"); bad += 1; break
    tx.close()
    while True:
        try: got.append(rx2.recv_timeout(3))
        except mpsc.Timeout: got.append("TIMEOUT"); break
        except mpsc.RecvError: break
    missing = set(range(40)) - set(got); dup = len(got) - len(set(got))
    if missing or dup or "TIMEOUT" in got:
        bad += 1; print(trial, "missing", sorted(missing), "dup", dup, "timeout", "TIMEOUT" in got, flush=True)
    rx2.close()
print(sys.version.split()[0], "trials", N, "bad", bad)
os._exit(1 if bad else 0)
