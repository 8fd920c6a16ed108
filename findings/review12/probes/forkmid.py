import gc, os, sys, threading, time
import mpsc, mpsc.process as mpp
from mpsc.process import _implementation
print("impl:", _implementation.in_use(), flush=True)
N = int(sys.argv[1]) if len(sys.argv) > 1 else 300
tx, rx = mpp.channel()
carried = []
for i in range(N):
    o = mpp.sync_channel(2) if i % 3 == 0 else (mpp.sync_channel(0) if i % 3 == 1 else mpp.channel())
    carried.append(o)
    tx.send((i, o[0]))
    o[0].close()
tx.close()
got = []
stop = False
def recv_loop():
    for v in rx:
        got.append(v[0]); v[1].close()
t = threading.Thread(target=recv_loop)
base = len(os.listdir("/proc/self/fd"))
t.start()
forks = 0; badchild = 0
while t.is_alive():
    pid = os.fork()
    if pid == 0:
        try:
            mpp.release_inherited()
            # the child holds no handle of any carried channel now: check by fd count of sockets
            os._exit(0)
        except BaseException:
            os._exit(7)
    _, st = os.waitpid(pid, 0)
    forks += 1
    if os.waitstatus_to_exitcode(st) != 0: badchild += 1
t.join()
gc.collect()
lost = sorted(set(range(N)) - set(got))
conn = 0
for otx, orx in carried:
    try:
        orx.recv_timeout(0.5)
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        conn += 1
    orx.close()
rx.close()
gc.collect()
print("forks:", forks, "bad children:", badchild, "received:", len(got), "lost:", lost[:10], "dup:", len(got) - len(set(got)),
      "carried still connected:", conn, "fds", base, "->", len(os.listdir("/proc/self/fd")))
sys.exit(1 if lost or conn or badchild or len(got) != len(set(got)) else 0)
