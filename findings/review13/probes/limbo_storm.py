"""Probe: with (LIMBO=1) or without a thread stuck in threading._limbo, a SIGALRM every PERIOD s
whose handler raises KeyboardInterrupt, in the main thread receiving N large values (the compiled
receive hands them to the pure code, whose deferral waits in _wait_started). Count messages:
received (returned) + lost must equal sent; lost = sent - returned at the end (drained)."""
import _thread, os, signal, sys, threading, time
import mpsc, mpsc.process as mpp, faulthandler
if os.environ.get("DUMP"): faulthandler.dump_traceback_later(float(os.environ["DUMP"]), exit=True)
N = int(os.environ.get("N", "300")); PERIOD = float(os.environ.get("PERIOD", "0.0005"))
if os.environ.get("LIMBO") == "1":
    START = threading.Thread.start.__code__
    t = threading.Thread(target=lambda: None); st = {"c": 0, "on": True}
    def pend():
        for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)): break
    def h(s, f):
        if not st["on"]: return
        if f is not None and f.f_code is START:
            st["c"] += 1
            if st["c"] == 2: st["on"] = False; raise KeyboardInterrupt
        pend()
    signal.signal(signal.SIGUSR2, h)
    try:
        pend(); t.start()
    except KeyboardInterrupt: pass
    st["on"] = False
    print("in limbo:", t in threading._limbo)
tx, rx = mpp.channel()
on = {"v": False}
def alarm(s, f):
    if on["v"]: raise KeyboardInterrupt
signal.signal(signal.SIGALRM, alarm)
got = []; interrupts = 0; t0 = time.monotonic()
signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
def noop():
    pass


def one():
    global interrupts
    v = None
    try:
        on["v"] = True
        v = rx.recv_timeout(0.2)
        on["v"] = False
        noop()  # a deferred interrupt lands here, after v is stored
    except KeyboardInterrupt:
        on["v"] = False
        interrupts += 1
    except mpsc.Timeout:
        on["v"] = False
        return "timeout"
    on["v"] = False
    return v


for i in range(N):
    on["v"] = False
    tx.send((i, b"x" * 70000))
    while True:
        try:
            r = one()
        except KeyboardInterrupt:
            interrupts += 1
            continue
        if r == "timeout":
            break
        if r is not None:
            got.append(r[0])
            break
signal.setitimer(signal.ITIMER_REAL, 0, 0)
on["v"] = False
while True:
    try: got.append(rx.try_recv()[0])
    except mpsc.Empty: break
lost = N - len(set(got)); dup = len(got) - len(set(got))
print(f"sent {N} received {len(got)} lost {lost} dup {dup} interrupts {interrupts} took {time.monotonic() - t0:.1f}s")
sys.exit(1 if lost or dup else 0)
