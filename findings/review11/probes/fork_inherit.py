"""Probe: processes fork children that use inherited bounded handles (no release_inherited, or
release_inherited from another thread mid-traffic); SIGKILL at random; capacity exact after."""
import os, random, signal, sys, threading, time
import mpsc, mpsc.process as mp

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
CAP = int(sys.argv[2]) if len(sys.argv) > 2 else 2
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
bad = 0

def sender_loop(tx, tag, stop):
    i = 0
    try:
        while not stop.is_set():
            try:
                tx.send_timeout((tag, i), 0.05); i += 1
            except mpsc.Timeout:
                pass
    except (mpsc.ClosedHandleError, mpsc.SendError):
        pass

def receiver_loop(rx, stop):
    try:
        while not stop.is_set():
            try: rx.recv_timeout(0.05)
            except mpsc.Timeout: pass
    except (mpsc.ClosedHandleError, mpsc.RecvError):
        pass

def middle(tx, rx, seed):
    random.seed(seed)
    stop = threading.Event()
    ts = [threading.Thread(target=sender_loop, args=(tx, ("m", j), stop), daemon=True) for j in range(2)]
    ts.append(threading.Thread(target=receiver_loop, args=(rx, stop), daemon=True))
    for t in ts: t.start()
    kids = []
    while True:
        time.sleep(random.uniform(0, 0.01))
        pid = os.fork()
        if pid == 0:
            r = random.random()
            st = threading.Event()
            if r < 0.4:
                sender_loop(tx, ("g", os.getpid()), st)  # runs until killed
            elif r < 0.7:
                th = threading.Thread(target=sender_loop, args=(tx, ("g", os.getpid()), st), daemon=True)
                th.start()
                time.sleep(random.uniform(0, 0.01))
                mp.release_inherited(rx)  # closes tx under the sending thread
                th.join(1)
                receiver_loop(rx, st)
            else:
                receiver_loop(rx, st)
            os._exit(0)
        kids.append(pid)
        if len(kids) > 3:
            victim = kids.pop(random.randrange(len(kids)))
            os.kill(victim, signal.SIGKILL); os.waitpid(victim, 0)

for r in range(ROUNDS):
    tx, rx = mp.sync_channel(CAP)
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        try:
            middle(tx, rx, r)
        finally:
            os._exit(0)
    try: os.setpgid(pid, pid)
    except OSError: pass
    time.sleep(random.uniform(0.02, 0.15))
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    time.sleep(0.05)  # orphaned grandchildren in the group are killed too; let them die
    got = []
    while True:
        try: got.append(rx.try_recv())
        except mpsc.Empty: break
    dups = len(got) - len(set(got))
    n0 = len(rx); k = 0
    while k < CAP + 2:
        try: tx.try_send(("x", k)); k += 1
        except mpsc.Full: break
    n1 = len(rx)
    if dups or n0 or k != CAP or n1 != CAP:
        bad += 1
        print(f"round {r}: drained={len(got)} dups={dups} len_after_drain={n0} try_sends={k} len_full={n1}", flush=True)
    tx.close(); rx.close()
print(f"rounds={ROUNDS} bad={bad} pure={os.environ.get('MPSC_PURE')}")
sys.exit(1 if bad else 0)
