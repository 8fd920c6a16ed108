"""A fetch retried after the server was paused (SIGSTOP past IO_TIMEOUT, then SIGCONT): then
rx1 idles; rx2 must drain everything and get RecvError."""
import os, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server()
kind = sys.argv[1]; bad = 0
for trial in range(int(sys.argv[2])):
    tx, rx1 = (mpsc.redis.unbounded(srv.url, name=f"p{trial}") if kind == "u" else mpsc.redis.bounded(srv.url, int(kind), name=f"p{trial}"))
    rx2 = rx1.clone()
    M = 20 if kind != "0" else 0
    for i in range(min(M, 4 if kind == "4" else M)): tx.send(i)
    got = []
    for _ in range(2 if kind == "u" else 0): got.append(rx1.recv())  # batch grows
    res = {}
    def r():
        try: res["v"] = rx1.recv_timeout(6) if trial % 2 else rx1.recv()
        except Exception as e: res["e"] = repr(e)
    srv.pause()
    th = threading.Thread(target=r); th.start()
    time.sleep(2.3 + 0.2 * (trial % 3))
    srv.resume()
    if kind == "0":
        tx.send_timeout("rv", 5)
    th.join(10)
    if "v" in res: got.append(res["v"])
    def feed():
        for i in range(min(M, 4 if kind == "4" else M), M): tx.send_timeout(i, 5)
        tx.close()
    ft = threading.Thread(target=feed); ft.start()
    time.sleep(0.1)
    end = None
    while True:
        try: got.append(rx2.recv_timeout(3))
        except mpsc.Timeout: end = "Timeout"; break
        except mpsc.RecvError: end = "RecvError"; break
    ft.join(10)
    want = set(range(M)) | ({"rv"} if kind == "0" else set())
    missing = want - set(got); dup = len(got) - len(set(got))
    print(trial, res.get("e", "value"), end, "missing", sorted(map(str, missing)), "dup", dup, "rx1 orph", rx1._orphans, "buf", len(rx1._buf), flush=True)
    bad += bool(missing or dup or end != "RecvError")
    rx1.close(); rx2.close()
print("bad", bad)
os._exit(1 if bad else 0)
