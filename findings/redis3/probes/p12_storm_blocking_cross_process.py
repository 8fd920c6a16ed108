"""SIGALRM storm in the main thread blocked in send() on a full bounded channel (receiver in a
child process) and in recv() (sender in a child process). Counts."""
import os, sys, time, random, signal, subprocess, pickle, collections, tempfile
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
RECV = r'''
import sys, os, time, pickle, mpsc
rx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
out = []
try:
    while True:
        out.append(rx.recv_timeout(20)); time.sleep(0.0005)
except mpsc.RecvError:
    pass
open(sys.argv[1], "w").write(repr(out))
'''
SEND = r'''
import sys, pickle, mpsc
tx = pickle.loads(bytes.fromhex(sys.stdin.readline().strip()))
for i in range(int(sys.argv[1])):
    tx.send(i)
tx.close()
'''
def storm_on():
    armed = [False]; ints = [0]
    def handler(s, f):
        signal.setitimer(signal.ITIMER_REAL, random.uniform(0.0003, 0.0009))
        if armed[0]:
            armed[0] = False; ints[0] += 1
            raise KeyboardInterrupt
    prev = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.0005)
    return armed, ints, prev
def storm_off(prev):
    signal.signal(signal.SIGALRM, signal.SIG_IGN); signal.setitimer(signal.ITIMER_REAL, 0); signal.signal(signal.SIGALRM, prev)
ok = True
for cap in (1, 3, 0):
    tx, rx = mpsc.redis.bounded(srv.url, cap)
    f = tempfile.mktemp()
    p = subprocess.Popen([sys.executable, "-c", RECV, f], stdin=subprocess.PIPE, text=True)
    p.stdin.write(pickle.dumps(rx).hex() + "\n"); p.stdin.close(); rx.close()
    returned, unknown = [], []
    armed, ints, prev = storm_on()
    try:
        i = 0
        while i < 600:
            try:
                while i < 600:  # (a deferred interrupt lands at the back edge: keep it inside the try)
                    armed[0] = True
                    tx.send(i)
                    armed[0] = False
                    returned.append(i)
                    i += 1
            except KeyboardInterrupt:
                armed[0] = False
                if returned and returned[-1] == i:
                    i += 1
                    continue
                unknown.append(i)
                i += 1
    finally:
        armed[0] = False; storm_off(prev)
    tx.close(); p.wait(60)
    got = collections.Counter(eval(open(f).read()))
    lost = [v for v in returned if got[v] == 0]; dup = [v for v in got if got[v] > 1]
    ghosts = [v for v in got if v not in returned and v not in unknown]
    print(f"send cap={cap}: interrupts {ints[0]} returned {len(returned)} unknown {len(unknown)} (delivered {sum(1 for v in unknown if got[v])}) lost {lost[:5]} dup {dup[:5]} ghosts {ghosts[:5]}")
    ok &= not lost and not dup and not ghosts
    # recv side
    tx, rx = mpsc.redis.bounded(srv.url, cap)
    p = subprocess.Popen([sys.executable, "-c", SEND, "600"], stdin=subprocess.PIPE, text=True)
    p.stdin.write(pickle.dumps(tx).hex() + "\n"); p.stdin.close(); tx.close()
    got = []
    armed, ints, prev = storm_on()
    ended = False; stop = time.monotonic() + 60
    try:
        while not ended and time.monotonic() < stop:
            try:
                while True:
                    armed[0] = True
                    v = rx.recv()
                    armed[0] = False
                    got.append(v)
            except KeyboardInterrupt:
                pass
            except mpsc.RecvError:
                ended = True
    finally:
        armed[0] = False; storm_off(prev)
    p.wait(30); rx.close()
    c = collections.Counter(got)
    lost = [i for i in range(600) if c[i] == 0]; dup = [v for v in c if c[v] > 1]
    print(f"recv cap={cap}: interrupts {ints[0]} got {len(got)} lost {lost[:5]}({len(lost)}) dup {dup[:5]} ended {ended}")
    ok &= not lost and not dup and ended
sys.exit(0 if ok else 1)
