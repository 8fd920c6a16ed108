import sys, os, time, multiprocessing as mp, mpsc, mpsc.process as mpp
def f(tx): time.sleep(30)
if __name__ == "__main__":
    ok = True
    for method in ("spawn", "forkserver"):
        for delay in (0, 0.001, 0.01, 0.05, 0.3):
            ctx = mp.get_context(method)
            tx, rx = mpp.channel()
            p = ctx.Process(target=f, args=(tx,)); p.start()
            time.sleep(delay); p.kill(); p.join()
            tx.close()
            t = time.monotonic()
            try:
                rx.recv_timeout(3); ok = False; r = "value?"
            except mpsc.RecvError: r = f"RecvError after {time.monotonic()-t:.3f}s"
            except mpsc.Timeout: r = "STILL CONNECTED after 3 s"; ok = False
            print(method, delay, r)
            rx.close()
    sys.exit(0 if ok else 1)
