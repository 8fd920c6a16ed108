"""Probe (review 5): real SIGALRM interrupts (KeyboardInterrupt) on rx1's receives, optionally
with the server paused (SIGSTOP) for a moment meanwhile, on unbounded / bounded(4) /
rendezvous channels; then rx1 alone drains. Checks: every value exactly once; for u and 4, after
the sender finished (all values in the channel, closed), try_recv on rx1 (no other receive
runs) never says Empty while values remain; the drain ends with RecvError (not Timeout).
argv: kind (u|4|0), trials, pause (0|1), lo, hi (seconds to the SIGALRM). Exit 1 on any bad."""
import os, sys, time, random, signal, threading
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server
import mpsc, mpsc.redis

kind = sys.argv[1] if len(sys.argv) > 1 else "u"
TRIALS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
PAUSE = sys.argv[3] == "1" if len(sys.argv) > 3 else False
SLOW = float(os.environ.get("SLOW", "0"))
RANGE = (float(sys.argv[4]), float(sys.argv[5])) if len(sys.argv) > 5 else (0.00005, 0.003)
srv = server()
def handler(s, f): raise KeyboardInterrupt
signal.signal(signal.SIGALRM, handler)
bad = 0; interrupted = 0; empties_false = 0; t0 = time.monotonic()
for trial in range(TRIALS):
    name = f"c{trial}"
    tx, rx1 = (mpsc.redis.unbounded(srv.url, name=name) if kind == "u" else mpsc.redis.bounded(srv.url, int(kind), name=name))
    M = 30
    sent_all = threading.Event()
    def sender():
        for i in range(M):
            try:
                tx.send_timeout(i, 20)
                if SLOW:
                    time.sleep(random.uniform(0, SLOW))
            except Exception as e:
                print("send", i, repr(e), flush=True)
        sent_all.set()
        tx.close()
    st = threading.Thread(target=sender, daemon=True); st.start()
    stop = threading.Event()
    def pauser():
        while not stop.is_set():
            time.sleep(random.uniform(0.0, 0.03))
            if stop.is_set():
                break
            srv.pause()
            time.sleep(random.choice([0.05, 0.2, 0.3, 0.45, 0.6]))
            srv.resume()
    pt = None
    if PAUSE:
        pt = threading.Thread(target=pauser, daemon=True); pt.start()
    got = []; meths = []
    for k in range(int(os.environ.get("NRECV", "12"))):
        v = None
        meth = random.choice(["t", "rt", "r", "rt0"])
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, random.uniform(*RANGE))
                if meth == "t":
                    try: v = rx1.try_recv()
                    except mpsc.Empty: v = None
                elif meth == "rt":
                    v = rx1.recv_timeout(0.3)
                elif meth == "rt0":
                    v = rx1.recv_timeout(0.0)
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
    stop.set()
    if pt is not None:
        pt.join(2)
        srv.resume()
    why = None; false_empty = None
    if kind != "0":
        # the channel holds every value not yet received, and nothing else receives
        while not sent_all.is_set() and kind == "u":
            time.sleep(0.01)
        if kind == "u":
            time.sleep(random.choice([0.0, 0.005, 0.02]))
            while True:
                try:
                    got.append(rx1.try_recv())
                except mpsc.Empty as e:
                    if len(set(got)) < M:
                        false_empty = (repr(e), sorted(set(range(M)) - set(got)))
                    break
                except mpsc.RecvError:
                    break
    while True:
        try:
            got.append(rx1.recv_timeout(3))
        except mpsc.Timeout:
            why = "Timeout"; break
        except mpsc.RecvError:
            break
    st.join(25)
    missing = sorted(set(range(M)) - set(got)); dup = len(got) - len(set(got))
    if false_empty:
        empties_false += 1
    if missing or dup or why or false_empty:
        bad += 1
        print(f"trial {trial}: end {why or 'RecvError'} missing {missing} dup {dup} false_empty {false_empty} meths {meths} "
              f"buf {len(rx1._buf)} orph {rx1._orphans} fence {rx1._fence}", flush=True)
        try:
            print("   XPENDING", srv.command("XPENDING", rx1.name, "rx"), flush=True)
        except Exception as e:
            print("   XPENDING", repr(e))
    rx1.close()
print(sys.version.split()[0], kind, "pause", PAUSE, "trials", TRIALS, "interrupted", interrupted, "false empty", empties_false, "bad", bad,
      f"{time.monotonic() - t0:.0f}s", flush=True)
os._exit(1 if bad else 0)
