"""Probe: a thread receives a message carrying handles (or closes the last handle) while another
thread forks at the k-th function start (a check point) inside mpsc of the first thread, for
every k. The child calls release_inherited() and reports the fds it still holds that are
sockets, pipes or memfds (beyond stdio and the report pipe); it must exit within 5 s.
usage: WHAT=recv|close|del LEVEL=call|line"""
import gc, os, sys, threading, time, signal
import mpsc, mpsc.process as mpp
MPSC = os.path.dirname(mpsc.__file__)
WHAT = os.environ.get("WHAT", "recv"); LEVEL = os.environ.get("LEVEL", "call")
CAP = os.environ.get("CAP", "2")

def kinds():
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try: t = os.readlink(f"/proc/self/fd/{fd}")
        except OSError: continue
        if t.startswith(("socket:", "pipe:", "/memfd:")): out.append((int(fd), t))
    return out

PRE = {fd for fd, _ in kinds()}
req = threading.Event(); done = threading.Event(); result = []
def forker():
    while True:
        req.wait(); req.clear()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                mpp.release_inherited()
                gc.collect()
                left = [k for k in kinds() if k[0] != w and k[0] not in PRE]
                os.write(w, repr(left).encode())
            finally:
                os._exit(0)
        os.close(w)
        t0 = time.monotonic(); st = None
        while time.monotonic() - t0 < 5:
            p, st = os.waitpid(pid, os.WNOHANG)
            if p: break
            time.sleep(0.002)
        else:
            os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0)
            result.append(("HANG", None)); os.close(r); done.set(); continue
        data = b""
        while True:
            b = os.read(r, 65536)
            if not b: break
            data += b
        os.close(r)
        result.append(("ok", data.decode()))
        done.set()
threading.Thread(target=forker, daemon=True).start()

class Tr:
    def __init__(self, k): self.k = k; self.n = 0; self.where = ""
    def __call__(self, frame, event, arg):
        if self.n > self.k: return None
        if frame.f_code.co_filename.startswith(MPSC):
            if event == "call" or (LEVEL == "line" and event == "line"):
                self.n += 1
                if self.n == self.k:
                    self.where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
                    done.clear(); req.set(); done.wait(10)
            return self
        return self if event == "call" else None

def mk():
    return mpp.channel() if CAP == "none" else mpp.sync_channel(int(CAP))

def scene(k):
    tx, rx = mpp.channel(); otx, orx = mk()
    if WHAT == "send":
        fn = lambda: tx.send(("h", otx))
    elif WHAT == "recv":
        tx.send(("h", otx, orx)); otx.close(); orx.close()
        fn = lambda: out.append(rx.recv())
    else:
        holder = [otx]
        fn = (lambda: holder[0].close()) if WHAT == "close" else (lambda: holder.clear())
        del otx
    out = []
    result.clear()
    tr = Tr(k)
    sys.settrace(tr)
    try:
        fn()
    finally:
        sys.settrace(None)
    rep = result[0] if result else None
    for h in (out[0][1:] if out else ()): h.close()
    for h in (tx, rx, orx): h.close()
    if WHAT == "send": otx.close()
    return tr.n >= k, tr.where, rep

pre = kinds()
scene(10**9)
bad = 0; k = 1
while True:
    fired, where, rep = scene(k)
    if not fired: break
    if rep is None or rep[0] != "ok" or rep[1] != "[]":
        bad += 1
        print("BAD k", k, where, rep, flush=True)
    k += 1
print("points", k - 1, "bad", bad)
sys.exit(1 if bad else 0)
