import os, sys, signal, time, multiprocessing as mp
import mpsc, mpsc.process as mpp

class Boom(Exception): pass
N = 20000
def child(tx):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    for i in range(N): tx.send_timeout(i, 20)
    tx.close()

state = {"armed": False}
def h(*a):
    if state["armed"]: raise Boom()

def loop_recv(rx, got, use_select):
    booms = 0; t0 = time.monotonic(); done = False
    while not done:
        try:
            while time.monotonic() - t0 < 12:
                state["armed"] = True
                if use_select:
                    _, v = mpsc.select(rx, timeout=5)
                else:
                    v = rx.recv_timeout(5)
                got.append(v)
            done = True
        except Boom:
            booms += 1
        except mpsc.RecvError:
            done = True
    state["armed"] = False
    return booms

def main(cap, use_select):
    ctx = mp.get_context("fork")
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    got = []
    p = ctx.Process(target=child, args=(tx,)); p.start(); tx.close()
    signal.setitimer(signal.ITIMER_REAL, 0.0011, 0.0011)
    try:
        booms = loop_recv(rx, got, use_select)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        state["armed"] = False
    p.join(10)
    if p.is_alive(): p.kill(); p.join()
    missing = len(set(range(N)) - set(got)); dups = len(got) - len(set(got))
    print(f"{'select' if use_select else 'recv_timeout'} cap={cap}: {len(got)} received of {N}, missing {missing}, dups {dups}, interrupts {booms}")
    rx.close()
    return missing == 0 and dups == 0

if __name__ == "__main__":
    sys.unraisablehook = lambda *a: None
    signal.signal(signal.SIGALRM, h)
    ok = True
    for cap in (None, 4):
        for sel in (False, True):
            ok &= main(cap, sel)
    sys.exit(0 if ok else 1)
