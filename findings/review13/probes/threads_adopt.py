"""Probe: T threads each receive (at a barrier) a message carrying a Sender of the same channel C
(this process holds none before), then (at a barrier) the main thread checks all received
Senders share one endpoint; then they close at once (barrier) and the main thread checks C's
Receiver sees the disconnection and fds are back. ROUNDS rounds. Optional CLOSER=1: while the
threads adopt, the previous round's last handle is closed by another thread at the same time."""
import gc, os, sys, threading, time
import mpsc, mpsc.process as mpp
T = int(os.environ.get("T", "4")); ROUNDS = int(os.environ.get("ROUNDS", "200"))
CAP = os.environ.get("CAP", "2")
sys.setswitchinterval(1e-6) if hasattr(sys, "setswitchinterval") else None
def nfds(): return len(os.listdir("/proc/self/fd"))
carriers = [mpp.channel() for _ in range(T)]
bad = 0
gc.collect(); base = nfds()
for r in range(ROUNDS):
    otx, orx = mpp.channel() if CAP == "none" else mpp.sync_channel(int(CAP))
    held = otx.clone() if os.environ.get("CLOSER") else None
    for tx, _ in carriers: tx.send(("h", otx))
    otx.close()
    got = [None] * T
    b1 = threading.Barrier(T + (1 if held else 0)); b2 = threading.Barrier(T + 1)
    def worker(i):
        b1.wait()
        got[i] = carriers[i][1].recv_timeout(5)[1]
        b2.wait()
    def closer():
        b1.wait(); held.close()
    ths = [threading.Thread(target=worker, args=(i,)) for i in range(T)]
    if held: ths.append(threading.Thread(target=closer))
    for t in ths: t.start()
    b2.wait()
    eps = {id(h._ep) for h in got}
    for t in ths: t.join()
    if len(eps) != 1:
        bad += 1
        if bad < 5: print("round", r, "received clones on", len(eps), "endpoints", flush=True)
    cl = threading.Barrier(T)
    def closeit(h):
        cl.wait(); h.close()
    cts = [threading.Thread(target=closeit, args=(h,)) for h in got]
    for t in cts: t.start()
    for t in cts: t.join()
    del got
    try:
        orx.recv_timeout(2); print("round", r, "value?"); bad += 1
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        bad += 1; print("round", r, "C never disconnects", flush=True)
    orx.close()
gc.collect(); time.sleep(0.1); gc.collect()
if nfds() != base: print("fds", base, nfds()); bad += 1
print("rounds", ROUNDS, "bad", bad); sys.exit(1 if bad else 0)
