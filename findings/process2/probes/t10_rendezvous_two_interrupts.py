import sys, os, threading, time
sys.path.insert(0, "tests")
import mpsc, mpsc.process as mpp
from checkpoints import NOT_RETURNED, SignalInjector, every_two_points, Injected
bad = []
def scene_recv(n, m):
    tx, rx = mpp.sync_channel(0)
    res = {}
    def snd():
        try: tx.send_timeout("v", 1.0); res["s"] = "sent"
        except mpsc.Timeout: res["s"] = "timeout"
        except BaseException as e: res["s"] = repr(e)
    th = threading.Thread(target=snd); th.start()
    inj = SignalInjector(n, m)
    hook, sys.unraisablehook = sys.unraisablehook, (lambda *a: None)
    try:
        result, exc = inj.call(lambda: rx.recv_timeout(2))
    finally:
        sys.unraisablehook = hook
    got = [result] if result is not NOT_RETURNED else []
    while th.is_alive():
        try: got.append(rx.recv_timeout(0.05))
        except mpsc.Timeout: pass
    th.join()
    want = ["v"] if res["s"] == "sent" else []
    if got != want or (tx._ep.busy or rx._ep.busy):
        bad.append((n, m, inj.where, res["s"], got, repr(exc), tx._ep.busy, rx._ep.busy))
    tx.close(); rx.close()
    return len(inj.raised)
def scene_send(n, m):
    tx, rx = mpp.sync_channel(0)
    got = []
    stop = threading.Event()
    def rcv():
        while not stop.is_set():
            try: got.append(rx.recv_timeout(0.05))
            except mpsc.Timeout: pass
    th = threading.Thread(target=rcv); th.start()
    inj = SignalInjector(n, m)
    hook, sys.unraisablehook = sys.unraisablehook, (lambda *a: None)
    try:
        result, exc = inj.call(lambda: tx.send_timeout("v", 2))
    finally:
        sys.unraisablehook = hook
    time.sleep(0.06); stop.set(); th.join()
    want = ["v"] if result is not NOT_RETURNED else []
    if got != want or tx._ep.busy or rx._ep.busy:
        bad.append(("send", n, m, inj.where, "returned" if result is not NOT_RETURNED else "raised", got, repr(exc), tx._ep.busy))
    tx.close(); rx.close()
    return len(inj.raised)
t = time.monotonic()
which = sys.argv[1] if len(sys.argv) > 1 else "recv"
pairs = every_two_points(scene_recv if which == "recv" else scene_send)
print(which, "pairs", pairs, "bad", len(bad), "in", round(time.monotonic()-t,1), "s")
for b in bad[:10]: print(b)
sys.exit(1 if bad else 0)
