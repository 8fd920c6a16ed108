"""SIGKILL sender processes at random instants: every value whose send returned is received
exactly once; no value received twice; nothing received that no sender sent; RecvError at the end."""
import os, sys, time, random, signal, subprocess, threading, tempfile, collections, pickle
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis

CHILD = r'''
import sys, os, mpsc.redis, pickle, random
tx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
base = int(sys.argv[2]); mode = sys.argv[3]
i = 0
while True:
    v = base + i
    if mode == "many":
        vs = [v, v + 1, v + 2]
        tx.send_many(vs); i += 3
        os.write(fd, b"".join(b"%d\n" % x for x in vs))
    elif mode == "timeout":
        try:
            tx.send_timeout(v, random.choice([0, 0.002, 0.02]))
            os.write(fd, b"%d\n" % v)
        except mpsc.Timeout:
            pass
        i += 1
    else:
        tx.send(v); i += 1
        os.write(fd, b"%d\n" % v)
'''

def run(srv, cap, kills, mode, seed):
    rnd = random.Random(seed)
    if cap == "u":
        tx, rx = mpsc.redis.channel(srv.url, lease=0.5)
    else:
        tx, rx = mpsc.redis.bounded(srv.url, cap, lease=0.5)
    d = tempfile.mkdtemp(prefix="r3p03-")
    procs = {}
    n = [0]
    def spawn():
        n[0] += 1
        f = os.path.join(d, f"s{n[0]}")
        p = subprocess.Popen([sys.executable, "-c", CHILD, f, str(n[0] * 10_000_000), mode], stdin=subprocess.PIPE, text=True)
        p.stdin.write(pickle.dumps(tx).hex() + "\n"); p.stdin.flush(); p.stdin.close()
        procs[f] = p
        t0 = time.monotonic()
        while not os.path.exists(f) and time.monotonic() < t0 + 10:
            time.sleep(0.005)
    for _ in range(3):
        spawn()
    got = collections.Counter()
    ends = []
    def recv(r):
        try:
            while True:
                got[r.recv_timeout(20)] += 1
        except mpsc.RecvError:
            ends.append(1)
        except Exception as e:
            ends.append(repr(e))
    r2 = rx.clone()
    ts = [threading.Thread(target=recv, args=(r,)) for r in (rx, r2)]
    for t in ts: t.start()
    time.sleep(0.5)
    for k in range(kills):
        time.sleep(rnd.random() * 0.2)
        f = rnd.choice([f for f, p in procs.items() if p.poll() is None])
        procs[f].send_signal(signal.SIGKILL); procs[f].wait()
        spawn()
    tx.close()
    time.sleep(0.3)
    for p in procs.values():
        p.send_signal(signal.SIGKILL); p.wait()
    for t in ts: t.join(30)
    hang = any(t.is_alive() for t in ts)
    returned = []
    for f in procs:
        if os.path.exists(f):
            returned += [int(x) for x in open(f).read().split()]
    lost = [v for v in returned if got[v] == 0]
    dups = [v for v, c in got.items() if c > 1]
    print(f"cap={cap} mode={mode} returned={len(returned)} received={sum(got.values())} lost={len(lost)} {lost[:5]} dups={dups[:5]} ends={ends} hang={hang}")
    return not lost and not dups and not hang and ends == [1, 1]

srv = server(persist=False)
ok = True
for r in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
    for cap in (2, 0, "u"):
        for mode in ("send", "timeout", "many"):
            if cap == 0 and mode == "many":
                continue
            ok &= run(srv, cap, 10, mode, r)
sys.exit(0 if ok else 1)
