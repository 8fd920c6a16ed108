import multiprocessing as mp, os, sys, gc
import mpsc, mpsc.process as mpp

def child(a, b, c, d, rx0):
    # a, b: same Sender twice; c: its clone; d: a Receiver of a rendezvous channel
    assert a is b or a._ep is b._ep, "a/b split"
    assert a._ep is c._ep, "clone split"
    a.send("one"); c.send("two")
    v = d.recv_timeout(5)
    a.send(("got", v))
    print("child fds:", sorted(int(x) for x in os.listdir("/proc/self/fd")), flush=True)

if __name__ == "__main__":
    ctx = mp.get_context(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    for rnd in range(3):
        tx, rx = mpp.sync_channel(3)
        stx, srx = mpp.sync_channel(0)
        c = tx.clone()
        p = ctx.Process(target=child, args=(tx, tx, c, srx, None))
        p.start()
        tx.close(); c.close(); srx.close()
        stx.send_timeout("rv", 10)
        got = [rx.recv_timeout(10) for _ in range(3)]
        p.join(10)
        print("round", rnd, "got", got, "exit", p.exitcode)
        try:
            rx.recv_timeout(3); print("BAD: got more")
        except mpsc.RecvError:
            print("  disconnected after child exit: ok")
        except mpsc.Timeout:
            print("BAD: still connected"); sys.exit(1)
        try:
            stx.send_timeout("x", 1); print("BAD sent")
        except mpsc.SendError:
            print("  rendezvous receiver gone: ok")
        rx.close(); stx.close()
