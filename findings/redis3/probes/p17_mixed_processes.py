"""3 processes, each with a sender thread, a receiver thread and a len()/is_full() thread on one
bounded channel (so _ack_here, ack_soon, fetch-carried acks all cross): exactly once, no hang."""
import os, sys, time, subprocess, pickle, collections, tempfile
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
CHILD = r'''
import sys, os, threading, random, time, pickle, mpsc
tx, rx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
k = int(sys.argv[2]); out = []; sent = []; stop = threading.Event()
def s():
    for i in range(1500):
        v = (k, i)
        r = random.random()
        try:
            if r < 0.4: tx.send(v)
            elif r < 0.7: tx.try_send(v)
            else: tx.send_timeout(v, random.choice([0, 0.001, 0.01]))
            sent.append(v)
        except (mpsc.Full, mpsc.Timeout):
            pass
    tx.close()
def r():
    try:
        while True:
            m = random.random()
            try:
                if m < 0.5: out.append(rx.recv_timeout(0.01))
                else: out.append(rx.try_recv())
            except (mpsc.Empty, mpsc.Timeout):
                pass
            if random.random() < 0.01: time.sleep(0.015)
    except mpsc.RecvError:
        stop.set()
def l():
    while not stop.is_set():
        try:
            len(rx); tx.is_full() if not tx._lease.closed else None
        except mpsc.ClosedHandleError:
            pass
        time.sleep(0.001)
ts = [threading.Thread(target=f) for f in (s, r, l)]
for t in ts: t.start()
for t in ts: t.join(120)
open(sys.argv[1], "w").write(repr((sent, out, [t.is_alive() for t in ts])))
rx.close()
'''
srv = server(persist=False)
ok = True
for cap in (1, 2, 0):
    tx, rx = mpsc.redis.bounded(srv.url, cap)
    fs, ps = [], []
    for k in range(3):
        f = tempfile.mktemp(); fs.append(f)
        p = subprocess.Popen([sys.executable, "-c", CHILD, f, str(k)], stdin=subprocess.PIPE, text=True)
        p.stdin.write(pickle.dumps((tx, rx)).hex() + "\n"); p.stdin.close(); ps.append(p)
    time.sleep(1.0)
    tx.close(); rx.close()
    for p in ps: p.wait(200)
    sent, got, hung = [], collections.Counter(), []
    for f in fs:
        s, o, alive = eval(open(f).read())
        sent += s; hung += [a for a in alive if a]
        for v in o: got[v] += 1
    lost = [v for v in sent if got[v] == 0]; dup = [v for v in got if got[v] > 1]; ghost = [v for v in got if v not in set(sent)]
    print(f"cap={cap}: sent {len(sent)} got {sum(got.values())} lost {lost[:5]} dup {dup[:5]} ghost {ghost[:5]} hung {hung}")
    ok &= not lost and not dup and not ghost and not hung
sys.exit(0 if ok else 1)
