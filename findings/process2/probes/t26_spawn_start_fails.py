import sys, os, multiprocessing as mp, mpsc, mpsc.process as mpp
def f(*a): pass
def nfds(): return len(os.listdir("/proc/self/fd"))
if __name__ == "__main__":
    ok = True
    for method in ("spawn", "forkserver"):
        ctx = mp.get_context(method)
        tx, rx = mpp.channel()
        base = nfds()
        try:
            ctx.Process(target=f, args=(tx, lambda: 1)).start()
            print(method, "start succeeded?")
        except Exception as e:
            print(method, "start raised", type(e).__name__)
        # tx must still be usable, and closing it must disconnect
        try:
            tx.send("still usable"); print("  tx usable:", rx.recv_timeout(1))
        except Exception as e:
            print("  tx after failed start:", repr(e)); 
        tx.close()
        try:
            rx.recv_timeout(2); print("  got something"); ok = False
        except mpsc.RecvError: print("  RecvError: ok")
        except mpsc.Timeout: print("  channel stays connected after a failed start (leaked dup)"); ok = False
        rx.close()
    sys.exit(0 if ok else 1)
