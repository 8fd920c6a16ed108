"""Probe: main thread interrupted by SIGALRM handlers while 2 other threads send/receive on the
same bounded channel; every message counted exactly once; capacity exact after."""
import os, random, signal, sys, threading, time
import mpsc, mpsc.process as mp
KIND = sys.argv[1]; OPS = int(sys.argv[2]); CAP = int(sys.argv[3]); random.seed(int(sys.argv[4]))
class Boom(Exception): pass
Exc = Boom if KIND == "Exception" else KeyboardInterrupt
armed = False; booms = 0
def handler(*a):
    global booms
    if armed:
        booms += 1; raise Exc()
signal.signal(signal.SIGALRM, handler)
tx, rx = mp.sync_channel(CAP)
sent = []; got = []; stop = threading.Event()
def th_send(j):
    i = 0
    while not stop.is_set():
        try: tx.send_timeout(("T", j, i), 0.01); sent.append(("T", j, i)); i += 1
        except mpsc.Timeout: pass
def th_recv():
    while not stop.is_set():
        try: got.append(rx.recv_timeout(0.01))
        except mpsc.Timeout: pass
ths = [threading.Thread(target=th_send, args=(0,)), threading.Thread(target=th_recv)]
for t in ths: t.start()
op = 0; nxt = 0
def body():
    global armed, op, nxt, sent, got
    while op < OPS:
        op += 1
        try:
            signal.setitimer(signal.ITIMER_REAL, random.uniform(1e-6, 5e-5))
            what = random.random()
            if what < 0.5:
                v = ("M", nxt, b"L" * 70000) if nxt % 3 == 0 else ("M", nxt)
                armed = True
                if what < 0.25: tx.try_send(v)
                else: tx.send_timeout(v, 0.002)
                armed = False
                sent += (("M", nxt),)
                nxt += 1
            else:
                armed = True
                if what < 0.75: w = rx.try_recv()
                else: w = rx.recv_timeout(0.002)
                armed = False
                got += (w,)
        except (Exc, mpsc.Full, mpsc.Empty, mpsc.Timeout):
            armed = False
while op < OPS:
    try: body()
    except Exc: pass
armed = False
for _ in range(5):
    try: signal.setitimer(signal.ITIMER_REAL, 0); time.sleep(0.001); break
    except Exc: pass
stop.set()
for t in ths: t.join()
while True:
    try: got.append(rx.try_recv())
    except mpsc.Empty: break
got = [w[:2] if w[0] == "M" else w for w in got]
lost = set(sent) - set(got); extra = set(got) - set(sent); dups = len(got) - len(set(got))
n0 = len(rx); k = 0
while k < CAP + 2:
    try: tx.try_send(k); k += 1
    except mpsc.Full: break
print(f"kind={KIND} pure={os.environ.get('MPSC_PURE')} booms={booms} sent={len(sent)} got={len(got)} lost={sorted(lost)[:5]} extra={sorted(extra)[:5]} dups={dups} len_after={n0} cap_seen={k}")
sys.exit(1 if lost or extra or dups or n0 or k != CAP else 0)
