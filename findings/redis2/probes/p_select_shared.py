import sys, time, threading
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
for kind in ("thread", "redis"):
    tx, rx = mr.channel(srv.url) if kind == "redis" else mpsc.channel()
    sel = mpsc.Select(); sel.add(rx)
    done = []
    def worker(k):
        while True:
            try:
                i, v = sel.select(timeout=5)
            except (mpsc.Timeout, mpsc.RecvError):
                return
            time.sleep(0.3)  # the job
            done.append((k, time.monotonic()))
    ws = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for w in ws: w.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(10): tx.send(i)
    tx.close()
    for w in ws: w.join(30)
    rx.close()
    per = {k: sum(1 for kk, _ in done if kk == k) for k in range(2)}
    print(f"{kind}: 10 jobs of 0.3 s on 2 workers sharing one Select: finished in {max(t for _, t in done) - t0:.1f} s, per worker {per}")
