import sys, signal, time, threading, random
import mpsc, mpsc.process as mpp
class Boom(Exception): pass
state = {"armed": False}
def h(sig, frame):
    if state["armed"] and frame is not None and frame.f_code.co_name != "run": raise Boom()
sys.unraisablehook = lambda *a: None
signal.signal(signal.SIGALRM, h)
N = 20000
def run(use_select, interval):
    tx, rx = mpp.sync_channel(64)
    def prod():
        for i in range(N): tx.send_timeout(i, 20)
        tx.close()
    th = threading.Thread(target=prod); th.start()
    got = []; booms = 0; done = False
    signal.setitimer(signal.ITIMER_REAL, interval, interval)
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
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0, 0); state["armed"] = False; break
        except Boom: booms += 1
    try:
        time.sleep(0.01)
    except Boom: booms += 1
    th.join(20)
    missing = len(set(range(N)) - set(got))
    print(("select" if use_select else "recv"), interval, "got", len(got), "missing", missing, "dups", len(got)-len(set(got)), "booms", booms)
_t, _r = mpp.channel(); _t.send(0); mpsc.select(_r, timeout=1)
for iv in (0.0003, 0.0001):
    run(True, iv); run(False, iv)
