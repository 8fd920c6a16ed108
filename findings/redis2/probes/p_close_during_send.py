import sys, time, threading
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis
from collections import Counter
srv = server()
res = Counter()
for cap in (None, 2):
    for trial in range(30):
        tx, rx = (mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap))
        ok = []
        errs = []
        def run():
            i = 0
            try:
                while True:
                    tx.send(i); ok.append(i); i += 1
            except BaseException as e:
                errs.append(e)
        t = threading.Thread(target=run); t.start()
        time.sleep(0.02 + trial * 0.001)
        if cap:  # drain a bit
            pass
        tx.close()
        deadline = time.monotonic() + 5
        got = []
        while True:
            try: got.append(rx.recv_timeout(max(0.01, deadline - time.monotonic())))
            except (mpsc.RecvError, mpsc.Timeout) as e:
                got.append(type(e).__name__); break
        t.join(5)
        rx.close()
        end = got.pop()
        res[(cap, type(errs[0]).__name__ if errs else "none", end)] += 1
        if got == ok + [len(ok)]:
            res[(cap, "GHOST: send raised, value delivered")] += 1
        elif got != ok:
            res[(cap, "MISMATCH")] += 1
            print("mismatch", cap, len(ok), len(got), got[-3:], ok[-3:])
print(res)
