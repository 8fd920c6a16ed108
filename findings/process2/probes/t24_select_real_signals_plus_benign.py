import sys, os, signal, time, threading
import mpsc, mpsc.process as mpp
MPSC = os.path.dirname(mpsc.__file__)
class Boom(Exception): pass
state = {"armed": False}
def h(sig, frame):
    if state["armed"] and frame is not None and frame.f_code.co_filename.startswith(MPSC): raise Boom()
benign = [0]
def b(sig, frame): benign[0] += 1
sys.unraisablehook = lambda *a: None
signal.signal(signal.SIGALRM, h)
signal.signal(signal.SIGUSR1, b)
N = 20000
def run(use_select, interval, prof):
    tx, rx = mpp.sync_channel(64)
    def prod():
        for i in range(N): tx.send_timeout(i, 20)
        tx.close()
    th = threading.Thread(target=prod); th.start()
    got = []; booms = 0; done = False
    signal.setitimer(signal.ITIMER_REAL, interval, interval)
    stopk = threading.Event()
    def killer():
        m = threading.main_thread().ident
        while not stopk.is_set():
            signal.pthread_kill(m, signal.SIGUSR1)
            time.sleep(prof)
    kt = threading.Thread(target=killer); kt.start()
    t0 = time.monotonic()
    while not done:
        try:
            while time.monotonic() - t0 < 8:
                state["armed"] = True
                if use_select: _, v = mpsc.select(rx, timeout=5)
                else: v = rx.recv_timeout(5)
                got.append(v)
            done = True
        except Boom: booms += 1
        except mpsc.RecvError: done = True
    state["armed"] = False
    signal.setitimer(signal.ITIMER_REAL, 0, 0); stopk.set(); kt.join()
    th.join(20)
    missing = len(set(range(N)) - set(got))
    print(("select" if use_select else "recv"), interval, prof, "got", len(got), "missing", missing, "dups", len(got)-len(set(got)), "booms", booms, "benign", benign[0], flush=True)
_t, _r = mpp.channel(); _t.send(0); mpsc.select(_r, timeout=1)
for prof in (0.00002, 0):
    run(True, 0.0003, prof); run(False, 0.0003, prof)
