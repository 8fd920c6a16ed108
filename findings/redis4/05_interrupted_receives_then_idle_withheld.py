"""Unconfirmed cause, intermittent: after a few receives of rx1 interrupted by real SIGALRMs
(KeyboardInterrupt), rx1 idles open and an entry stays pending under it while rx1's flags say
it holds nothing (``_buf`` empty, ``_orphans`` False, ``_announced`` False, not watched,
``_recent`` and ``acks`` empty: rx1 never handed it out). Its peer rx2 drains the channel after
the Sender closed and gets ``Timeout`` (3 s), not RecvError; XPENDING shows the entry under rx1.

Promise: "an exception landing ... before it leaves the entry where it was (buffered, or pending
under this handle and re-read by its next receive, or given back to its peers once it idled for
IDLE)"; "an idle or busy worker withholds nothing from its peers".

Per trial: a fresh unbounded channel, a thread sending 30 values then closing; the main thread
makes 8 receives on rx1 (try_recv / recv_timeout(0.5) / recv at random), each with a SIGALRM
0.05-2 ms in (default; 0.02-0.6 ms: argv 3, 4); then rx2 drains. Seen: 1 of 60 trials on 3.11 (0.05-2 ms), 3 of 150 on 3.13t
(0.02-0.6 ms), then 0 in ~1500 trials at 0.02-0.6 ms, then 2 of 200 on 3.11 at 0.05-2 ms (the
default now). The withheld value is one of the first (0 or 1) and rx1's receives around it
were all interrupted or Empty. How the flag came to be cleared is not
established: my guess is the interrupted fetch's command running on the server after a later
call on another connection (the next fetch's 'empty' reply, or the lease thread's GIVE, clears
``_orphans``), which nothing orders. Exit 1 when a trial shows it. argv: kind (u|4|0), trials.
"""
import os, sys, time, random, signal, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server
import mpsc, mpsc.redis
kind = sys.argv[1] if len(sys.argv) > 1 else 'u'; TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 200; RANGE = (float(sys.argv[3]), float(sys.argv[4])) if len(sys.argv) > 4 else (0.00005, 0.002)
srv = server()
MON = []
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
        print(f"trial {trial}: rx2 ended with {why or 'RecvError'}; missing {missing} dup {dup}; rx1 buf {len(rx1._buf)} orph {rx1._orphans} ann {rx1._announced} watched {rx1._lease.watched}", flush=True)
    rx1.close(); rx2.close()
print(sys.version.split()[0], kind, "trials", TRIALS, "interrupted", interrupted, "bad", bad, flush=True)
os._exit(1 if bad else 0)
