"""Probe: sender process and receiver process both interrupted by SIGALRM handlers raising,
bounded channel; exactly-once and capacity after."""
import os, random, signal, sys, time, pickle
import mpsc, mpsc.process as mp

KIND = sys.argv[1]; N = int(sys.argv[2]); CAP = int(sys.argv[3]); SEED = int(sys.argv[4])
class Boom(Exception): pass
Exc = Boom if KIND == "Exception" else KeyboardInterrupt
armed = False; booms = 0
def handler(*a):
    global booms
    if armed:
        booms += 1; raise Exc()
signal.signal(signal.SIGALRM, handler)
def mk(i):
    r = i % 3
    return i if r == 0 else (("t", i) if r == 1 else ("L", i, b"p" * 70000))
def key(v): return v if isinstance(v, int) else v[1]

tx, rx = mp.sync_channel(CAP)
rep_r, rep_w = os.pipe()
pid = os.fork()
if pid == 0:
    random.seed(SEED * 2 + 1)
    mp.release_inherited(tx)
    sent = []; nxt = 0
    def body():
        global armed, nxt, sent
        while nxt < N:
            try:
                signal.setitimer(signal.ITIMER_REAL, random.uniform(1e-6, 5e-5))
                v = mk(nxt)
                armed = True
                if random.random() < 0.5: tx.try_send(v)
                else: tx.send_timeout(v, 0.002)
                armed = False
                sent += (nxt,)
                nxt += 1
            except (Exc, mpsc.Full, mpsc.Timeout):
                armed = False
    while nxt < N:
        try: body()
        except Exc: pass
    armed = False
    for _ in range(5):
        try:
            signal.setitimer(signal.ITIMER_REAL, 0); time.sleep(0.001); break
        except Exc: pass
    os.write(rep_w, pickle.dumps(sent)); os._exit(0)
os.close(rep_w)
mp.release_inherited(rx, tx)
random.seed(SEED * 2)
got = []; done = [False]
def body():
    global armed, got
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(1e-6, 5e-5))
            armed = True
            if random.random() < 0.5: w = rx.try_recv()
            else: w = rx.recv_timeout(0.002)
            armed = False
            got += (w,)
        except (Exc, mpsc.Empty, mpsc.Timeout):
            armed = False
            r, _, _ = __import__("select").select([rep_r], [], [], 0)
            if r and not armed: return
while True:
    try:
        body(); break
    except Exc: pass
armed = False
for _ in range(5):
    try:
        signal.setitimer(signal.ITIMER_REAL, 0); time.sleep(0.001); break
    except Exc: pass
data = b""
while True:
    c = os.read(rep_r, 1 << 20)
    if not c: break
    data += c
os.waitpid(pid, 0)
sent = pickle.loads(data)
while True:
    try: got.append(rx.try_recv())
    except mpsc.Empty: break
got = [key(w) for w in got]
n0 = len(rx); k = 0
while k < CAP + 2:
    try: tx.try_send(k); k += 1
    except mpsc.Full: break
lost = sorted(set(sent) - set(got)); extra = sorted(set(got) - set(sent)); dups = len(got) - len(set(got))
print(f"kind={KIND} pure={os.environ.get('MPSC_PURE')} booms={booms} sent={len(sent)} got={len(got)} lost={lost[:8]} extra={extra[:8]} dups={dups} order={got == sorted(got)} len_after={n0} cap_seen={k}")
sys.exit(1 if lost or extra or dups or n0 or k != CAP or got != sorted(got) else 0)
