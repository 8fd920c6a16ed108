"""Probe: 1 or 2 interrupts (real pending signal, CPython check points) while the last handle of a
side is released: MODE=del (refcount collection -> __del__) or close; LOCK=held (another thread
holds the endpoint lock: the reaper path). Checks: the side disconnects for the peer, fds back,
the endpoint lock free."""
import gc, os, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../tests"))
from checkpoints import SignalInjector, Injected, InjectedError, quietly
import mpsc, mpsc.process as mpp

class Multi(SignalInjector):
    def __init__(self, targets, kind=Injected):
        super().__init__(targets[0], 0, kind)
        self.targets = list(targets); self.hits = 0
    def _handler(self, signum, frame):
        if not self.on:
            return
        if self._inside(frame):
            self.points += 1
            if self.points in self.targets:
                self.fired = True; self.hits += 1
                self.where += f" {frame.f_code.co_qualname}:{frame.f_lineno}"
                self.raised.append(self.kind(len(self.raised) + 1))
                if self.hits < len(self.targets):
                    self._pend()
                else:
                    self.on = False
                raise self.raised[-1]
        self._pend()

MODE = os.environ.get("MODE", "del")
LOCK = os.environ.get("LOCK", "free")
SIDE = os.environ.get("SIDE", "tx")
CAP = os.environ.get("CAP", "none")
EXC = Injected if os.environ.get("EXC", "kbd") == "kbd" else InjectedError

def nfds():
    return len(os.listdir("/proc/self/fd"))

def scene(targets):
    tx, rx = mpp.channel() if CAP == "none" else mpp.sync_channel(int(CAP))
    if SIDE == "tx":
        tx.send(1)  # a bounded side counts its ledger row
        mine, peer = tx, rx
    else:
        mine, peer = rx, tx
    ep = mine._ep
    holder = [mine]
    del mine, tx, rx
    stop = threading.Event(); got = threading.Event()
    if LOCK == "held":
        def hold():
            ep.lock.acquire(); got.set(); stop.wait(5); ep.lock.release()
        th = threading.Thread(target=hold); th.start(); got.wait(5)
    inj = Multi(targets, EXC) if targets else None
    fn = (lambda: holder.clear()) if MODE == "del" else (lambda: holder[0].close())
    if inj is None:
        fn(); exc = None
    else:
        _, exc = quietly(inj, fn)
    if LOCK == "held":
        stop.set(); th.join(5)
    holder.clear()
    problems = []
    fired = inj.hits if inj else 0
    where = inj.where if inj else ""
    del inj, exc
    gc.collect()
    # the peer must see the side gone
    t0 = time.monotonic()
    while True:
        try:
            if SIDE == "tx":
                while True:
                    peer.recv_timeout(0.05)
            else:
                peer.send_timeout(1, 0.05)
                # unbounded: a send succeeds while the receiver side exists
                raise mpsc.Timeout()
        except (mpsc.RecvError, mpsc.SendError):
            break
        except mpsc.Timeout:
            if time.monotonic() - t0 > 1.0:
                problems.append(("side never disconnects", ep.handles, ep.busy, ep.closed, ep.fds_closed))
                break
    if ep.lock.locked():
        time.sleep(0.2)
        if ep.lock.locked():
            problems.append(("endpoint lock held",))
    peer.close()
    return fired, where, problems, ep

def main():
    scene([]); scene([]); gc.collect(); time.sleep(0.05)
    base = nfds()
    n = 1
    while True:
        fired, _, _, _ = scene([n])
        if not fired: break
        n += 1
    total = n - 1
    print("mode", MODE, "lock", LOCK, "side", SIDE, "cap", CAP, "points", total, flush=True)
    bad = runs = 0
    pairs = os.environ.get("PAIRS", "1") == "1"
    todo = [[a] for a in range(1, total + 1)]
    if pairs:
        todo += [[a, a + m] for a in range(1, total + 1) for m in range(1, 25)]
    for t in todo:
        fired, where, pr, ep = scene(t)
        if fired < len(t):
            continue
        runs += 1
        gc.collect(); time.sleep(0.01)
        now = nfds()
        if now != base:
            time.sleep(0.1); gc.collect(); now = nfds()
        if now != base:
            pr.append(("fds", base, now))
            base = now
        if pr:
            bad += 1
            if bad <= 10:
                print("BAD", t, where, pr, flush=True)
    print("runs", runs, "bad", bad, flush=True)
    sys.exit(1 if bad else 0)
main()
