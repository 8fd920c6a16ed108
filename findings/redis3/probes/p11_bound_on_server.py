import os, sys, time, random, threading, collections
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
import redis
srv = server(persist=False)
ok = True
for cap in (1, 3):
    tx, rx = mpsc.redis.bounded(srv.url, cap)
    cli = redis.Redis.from_url(srv.url)
    stop = threading.Event(); maxlen = [0]; maxpel = [0]; samples = [0]
    def watch():
        while not stop.is_set():
            n = cli.xlen(rx.name); p = cli.xpending(rx.name, "rx")["pending"]
            maxlen[0] = max(maxlen[0], n); maxpel[0] = max(maxpel[0], p); samples[0] += 1
    got = collections.Counter(); sent = []
    def send(k):
        t = tx.clone()
        for i in range(400):
            try:
                random.choice([lambda: t.send((k, i)), lambda: t.try_send((k, i)), lambda: t.send_many([(k, i)])])()
                sent.append((k, i))
            except mpsc.Full:
                pass
        t.close()
    def recv():
        r = rx.clone()
        try:
            while True:
                got[r.recv_timeout(10)] += 1
                if random.random() < 0.02: time.sleep(0.02)
        except mpsc.RecvError:
            pass
        r.close()
    w = threading.Thread(target=watch); w.start()
    ts = [threading.Thread(target=send, args=(k,)) for k in range(3)] + [threading.Thread(target=recv) for _ in range(3)]
    for t in ts: t.start()
    tx.close(); rx.close()
    for t in ts: t.join(120)
    stop.set(); w.join()
    lost = [v for v in sent if got[v] == 0]; dup = [v for v in got if got[v] > 1]
    print(f"cap={cap}: samples {samples[0]} max XLEN {maxlen[0]} max PEL {maxpel[0]}; sent {len(sent)} lost {len(lost)} dup {len(dup)}")
    ok &= maxlen[0] <= cap and not lost and not dup
sys.exit(0 if ok else 1)
