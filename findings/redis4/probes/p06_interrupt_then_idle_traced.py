"""Real SIGALRM interrupts into rx1's receives, then rx1 idles open: rx2 must drain all and get
RecvError after the sender closed. Counts lost/dup/withheld. argv: kind (u|4|0) trials."""
import os, sys, time, random, signal, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
kind = sys.argv[1]; TRIALS = int(sys.argv[2]); RANGE = (float(sys.argv[3]), float(sys.argv[4])) if len(sys.argv) > 4 else (0.00002, 0.0006)
srv = server()
from mpsc.redis import _link
MON = []
_orig_call = _link.Link.call
def _traced_call(self, build, deadline, extra=0.0, size=0):
    kind = []
    def b2(give_up, attempt):
        args = build(give_up, attempt)
        data = getattr(args, "data", None)
        txt = data[:400].decode("latin1", "replace") if isinstance(data, (bytes, bytearray)) else " ".join(map(str, args))[:300]
        kind.append((attempt, txt.replace("\r\n", " ")[-90:]))
        return args
    t = threading.current_thread().name[:6]
    try:
        r = _orig_call(self, b2, deadline, extra, size)
    except BaseException as e:
        MON.append((time.monotonic(), t, kind, "EXC " + type(e).__name__)); raise
    MON.append((time.monotonic(), t, kind, repr(r)[:80]))
    return r
_link.Link.call = _traced_call
def handler(s, f): raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
bad = 0; interrupted = 0
for trial in range(TRIALS):
    name = f"c{trial}"
    tx, rx1 = (mpsc.redis.unbounded(srv.url, name=name) if kind == "u" else mpsc.redis.bounded(srv.url, int(kind), name=name))
    rx2 = rx1.clone()
    M = 30
    def sender():
        for i in range(M):
            try:
                tx.send_timeout(i, 10)
            except Exception as e:
                print("send", i, repr(e), flush=True)
        tx.close()
    st = threading.Thread(target=sender, daemon=True); st.start()
    mon0 = len(MON)
    got = []
    meths = []
    for k in range(8):
        v = None
        meth = random.choice(["t", "rt", "r"])
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, random.uniform(*RANGE))
                if meth == "t":
                    try: v = rx1.try_recv()
                    except mpsc.Empty: v = None
                elif meth == "rt":
                    v = rx1.recv_timeout(0.5)
                else:
                    v = rx1.recv()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except KeyboardInterrupt:
            interrupted += 1
        except (mpsc.Timeout, mpsc.RecvError):
            pass
        meths.append((meth, v))
        if v is not None: got.append(v)
    # rx1 idles, open. rx2 drains.
    why = None
    while True:
        try:
            got.append(rx2.recv_timeout(3))
        except mpsc.Timeout:
            why = "Timeout"; break
        except mpsc.RecvError:
            break
    st.join(5)
    missing = sorted(set(range(M)) - set(got)); dup = len(got) - len(set(got))
    if missing or dup or why:
        bad += 1
        try:
            xp = srv.command("XPENDING", rx1.name, "rx")
        except Exception as e:
            xp = repr(e)
        print("   XPENDING", xp, "rx1", rx1._lease.id, "rx2", rx2._lease.id, "acks", rx1._lease.acks, "recent", list(rx1._recent), "rx1 meths", meths, "xlen", srv.command("XLEN", rx1.name), flush=True)
        for line in MON[mon0:]:
            if any(rx1._lease.id in k[1] for k in line[2]):
                print("     MON", line, flush=True)
        print(f"trial {trial}: rx2 ended with {why or 'RecvError'}; missing {missing} dup {dup}; rx1 buf {len(rx1._buf)} orph {rx1._orphans} ann {rx1._announced} watched {rx1._lease.watched}", flush=True)
    rx1.close(); rx2.close()
print(sys.version.split()[0], kind, "trials", TRIALS, "interrupted", interrupted, "bad", bad, flush=True)
os._exit(1 if bad else 0)
