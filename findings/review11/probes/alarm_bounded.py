"""Probe: SIGALRM handler raising (Boom or KeyboardInterrupt) during bounded send/recv/try_*;
count exactly-once and capacity."""
import os, random, signal, sys, time
import mpsc, mpsc.process as mp

KIND = sys.argv[1] if len(sys.argv) > 1 else "Exception"
OPS = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
CAP = int(sys.argv[3]) if len(sys.argv) > 3 else 2
random.seed(int(sys.argv[4]) if len(sys.argv) > 4 else 0)

class Boom(Exception): pass
Exc = Boom if KIND == "Exception" else KeyboardInterrupt
armed = False
booms = 0
def handler(*a):
    global booms
    if armed:
        booms += 1
        raise Exc()
signal.signal(signal.SIGALRM, handler)

def rebuild(i, pad):
    x = 0
    for _ in range(50): x += 1   # python code in unpickling: check points
    return Val(i, pad)
class Val:
    def __init__(self, i, pad): self.i, self.pad = i, pad
    def __reduce__(self):
        x = 0
        for _ in range(50): x += 1
        return (rebuild, (self.i, self.pad))

def mk(i):
    r = i % 4
    if r == 0: return i
    if r == 1: return Val(i, b"") if not os.environ.get("NOVAL") else ("v", i)
    if r == 2: return Val(i, b"p" * 70000) if not os.environ.get("NOVAL") else ("L", i, b"p" * 70000)
    return ("t", i)
def key(v):
    if isinstance(v, int): return v
    if isinstance(v, Val): return v.i
    return v[1]

tx, rx = mp.sync_channel(CAP)
nxt = 0; sent = []; got = []; op = 0
def body():
    global nxt, sent, got, op, armed
    while op < OPS:
        op += 1
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(1e-6, 4e-5))
            what = random.random()
            if what < 0.5:
                v = mk(nxt)
                armed = True
                if what < 0.25: tx.try_send(v)
                else: tx.send_timeout(v, 0.001)
                armed = False
                sent += (nxt,)
                nxt += 1
            else:
                armed = True
                if what < 0.75: w = rx.try_recv()
                else: w = rx.recv_timeout(0.001)
                armed = False
                got += (w,)
        except (Exc, mpsc.Full, mpsc.Empty, mpsc.Timeout):
            armed = False
            continue
escapes = 0
while op < OPS:
    try:
        body()
    except Exc:
        escapes += 1
got = [key(w) for w in got]
signal.setitimer(signal.ITIMER_REAL, 0)
armed = False
time.sleep(0.01)
while True:
    try: got.append(key(rx.try_recv()))
    except mpsc.Empty: break
n0 = len(rx)
k = 0
while k < CAP + 2:
    try: tx.try_send(k); k += 1
    except mpsc.Full: break
lost = sorted(set(sent) - set(got)); extra = sorted(set(got) - set(sent))
dups = len(got) - len(set(got))
order_ok = got == sorted(got)
print(f"kind={KIND} pure={os.environ.get('MPSC_PURE')} ops={OPS} booms={booms} sent={len(sent)} got={len(got)} lost={lost[:10]} extra={extra[:10]} dups={dups} order={order_ok} len_after={n0} capacity_seen={k}")
sys.exit(1 if (lost or extra or dups or n0 or k != CAP or not order_ok) else 0)
