import gc, os, sys, threading
import mpsc.process as mpp
from mpsc.process import _implementation
if hasattr(sys, "setswitchinterval"):
    sys.setswitchinterval(1e-6)
print("impl:", _implementation.in_use(), "gil:", getattr(sys, "_is_gil_enabled", lambda: True)())
N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
base = None
split = 0
for i in range(N):
    otx, orx = mpp.sync_channel(2)
    pairs = [mpp.channel() for _ in range(2)]
    for tx, _ in pairs:
        tx.send(("h", otx))
    otx.close()
    got = [None, None]
    bar = threading.Barrier(2)
    def run(j):
        bar.wait()
        got[j] = pairs[j][1].recv_timeout(5)[1]
    ts = [threading.Thread(target=run, args=(j,)) for j in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    if got[0]._ep is not got[1]._ep:
        split += 1
    for h in got: h.close()
    del got
    gc.collect()
    try:
        orx.recv_timeout(1)
        print("received?!")
    except Exception as e:
        if type(e).__name__ != "RecvError":
            print("carried channel not disconnected:", repr(e)); sys.exit(2)
    for tx, rx in pairs: tx.close(); rx.close()
    orx.close()
    gc.collect()
    n = len(os.listdir("/proc/self/fd"))
    if base is None: base = n
    elif n != base:
        print("fds", base, "->", n); base = n
print("rounds:", N, "two threads' adoptions of the same side on two endpoints:", split)
sys.exit(1 if split else 0)
