"""Probe: victims SIGKILLed while long-lived producers/consumers keep using the bounded channel
and len() is polled (recover runs concurrently with live traffic); then the live ones stop
cleanly and capacity must be exact (never more: a slot given back twice would show)."""
import os, random, signal, sys, time, select
import mpsc, mpsc.process as mp

SECS = float(sys.argv[1]); CAP = int(sys.argv[2]); random.seed(int(sys.argv[3]))
tx, rx = mp.sync_channel(CAP)
stop_r, stop_w = os.pipe()
def stopped():
    return bool(select.select([stop_r], [], [], 0)[0])
def prod(tag):
    i = 0
    while not stopped():
        try: tx.send_timeout((tag, i), 0.02); i += 1
        except mpsc.Timeout: pass
def cons():
    while not stopped():
        try: rx.recv_timeout(0.2)
        except mpsc.Timeout: pass
        if random.random() < 0.01:
            try: len(rx)
            except Exception: pass
def spawn(fn, *a):
    pid = os.fork()
    if pid == 0:
        random.seed(os.getpid())
        os.close(stop_w)
        try: fn(*a)
        finally: os._exit(0)
    return pid
live = [spawn(prod, "L1"), spawn(prod, "L2"), spawn(cons)]
os.close(stop_w) if False else None
end = time.monotonic() + SECS
victims = []; kills = 0; maxlen = 0
while time.monotonic() < end:
    if len(victims) < 4:
        victims.append(spawn(random.choice([prod, cons, cons]), *(("V",) if False else ())) if False else spawn(random.choice([lambda: prod("V"), cons])))
    time.sleep(random.uniform(0, 0.01))
    n = len(rx); maxlen = max(maxlen, n)
    if n > CAP: print("len > CAP:", n, flush=True)
    if random.random() < 0.5 and victims:
        v = victims.pop(random.randrange(len(victims)))
        os.kill(v, signal.SIGKILL); os.waitpid(v, 0); kills += 1
for v in victims:
    os.kill(v, signal.SIGKILL); os.waitpid(v, 0); kills += 1
os.close(stop_w)
for p in live: os.waitpid(p, 0)
while True:
    try: rx.try_recv()
    except mpsc.Empty: break
n0 = len(rx); k = 0
while k < CAP + 3:
    try: tx.try_send(k); k += 1
    except mpsc.Full: break
print(f"cap={CAP} pure={os.environ.get('MPSC_PURE')} kills={kills} maxlen={maxlen} len_after_drain={n0} capacity_seen={k}")
sys.exit(1 if (n0 or k != CAP or maxlen > CAP) else 0)
