"""SIGKILL receiver processes at random instants (many rounds); every value whose send returned
must be received (at least once); duplicates only of values a killed receiver had. Nothing hangs."""
import os, sys, time, random, signal, subprocess, threading, tempfile, collections
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc.redis

CHILD = r'''
import sys, os, time, mpsc.redis, pickle
tx_unused = None
rx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, b"start\n")
mode = sys.argv[2]
import random
try:
    while True:
        if mode == "timeout":
            try:
                v = rx.recv_timeout(random.choice([0, 0.001, 0.01]))
            except mpsc.Timeout:
                continue
        else:
            v = rx.recv()
        os.write(fd, b"%d\n" % v)
        if random.random() < 0.05:
            time.sleep(random.random() * 0.03)  # idle a little (lease thread: acks, give-back)
except mpsc.RecvError:
    os.write(fd, b"end\n")
'''

def run(srv, cap, n, kills, mode, seed):
    rnd = random.Random(seed)
    url = srv.url
    d = tempfile.mkdtemp(prefix="r3p02-")
    if cap == "u":
        tx, rx = mpsc.redis.channel(url, lease=0.5)
    else:
        tx, rx = mpsc.redis.bounded(url, cap, lease=0.5)
    procs = {}
    count = [0]
    def spawn():
        count[0] += 1
        f = os.path.join(d, f"r{count[0]}")
        p = subprocess.Popen([sys.executable, "-c", CHILD, f, mode], stdin=subprocess.PIPE, text=True)
        import pickle
        p.stdin.write(pickle.dumps(rx).hex() + "\n"); p.stdin.flush(); p.stdin.close()
        procs[f] = p
    for _ in range(3):
        spawn()
    killed_files = set()
    returned = []
    errors = []
    def sender():
        try:
            for i in range(n):
                tx.send(i)
                returned.append(i)
        except Exception as e:
            errors.append(repr(e))
        finally:
            tx.close()
    t = threading.Thread(target=sender); t.start()
    k = 0
    while t.is_alive() and k < kills:
        time.sleep(rnd.random() * 0.15)
        live = [f for f, p in procs.items() if p.poll() is None]
        if len(live) >= 2:
            f = rnd.choice(live)
            procs[f].send_signal(signal.SIGKILL); procs[f].wait()
            killed_files.add(f); k += 1
            spawn()
    t.join(120)
    if t.is_alive():
        print("SENDER HANGS"); return False
    rx.close()
    deadline = time.monotonic() + 30
    for f, p in procs.items():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print("RECEIVER HANGS", f); p.kill()
            return False
    got = collections.Counter()
    from_killed = set()
    for f in procs:
        if not os.path.exists(f): continue
        for line in open(f).read().split():
            if line.isdigit():
                got[int(line)] += 1
                if f in killed_files: from_killed.add(int(line))
    lost = [i for i in returned if got[i] == 0]
    dups = [i for i, c in got.items() if c > 1]
    bad_dups = [i for i in dups if i not in from_killed]
    ghosts = [i for i in got if i not in returned and i >= len(returned) + 1]
    print(f"cap={cap} mode={mode} sent={len(returned)} kills={k} received={len(got)} lost={len(lost)} {lost[:10]} dups={len(dups)} unexplained_dups={bad_dups[:10]} errors={errors}")
    return not lost and not bad_dups and not errors

srv = server(persist=False)
ok = True
rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 1
for r in range(rounds):
    for cap in (2, 0, "u", 1):
        for mode in ("recv", "timeout"):
            ok &= run(srv, cap, 1500, int(os.environ.get("KILLS", "12")), mode, r * 100 + hash(str(cap)) % 50)
sys.exit(0 if ok else 1)
