"""Probe: interrupts (1, 2 or 3, KeyboardInterrupt or Exception) at CPython check points of a
receive of a message carrying process handles. Checks: exactly one message, fds back to the
baseline once everything is closed and collected, carried channel disconnects.
usage: inj.py KIND MODE [SAMPLES] ; KIND in tx/rx x none/2/0 [+held] or multi kinds; MODE single/pair/triple"""
import gc, os, random, sys, signal, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../tests"))
import mpsc, mpsc.process as mpp
from checkpoints import SignalInjector, Injected, InjectedError, quietly
from mpsc.process import _implementation

class Multi(SignalInjector):
    def __init__(self, targets, kind=Injected):
        super().__init__(targets[0], 0, kind)
        self.targets = list(targets)
        self.hits = 0
    def _handler(self, signum, frame):
        if not self.on:
            return
        if self._inside(frame):
            self.points += 1
            if self.points in self.targets:
                self.fired = True
                self.hits += 1
                self.where += f" {frame.f_code.co_qualname}:{frame.f_lineno}"
                self.raised.append(self.kind(len(self.raised) + 1))
                if self.hits < len(self.targets):
                    self._pend()
                else:
                    self.on = False
                raise self.raised[-1]
        self._pend()

def mk(cap):
    if cap == "none":
        return mpp.channel()
    return mpp.sync_channel(int(cap))

def nfds():
    return len(os.listdir("/proc/self/fd"))

KIND = sys.argv[1]
MODE = sys.argv[2]
SAMPLES = int(sys.argv[3]) if len(sys.argv) > 3 else 400
EXC = os.environ.get("EXC", "kbd")
landing = Injected if EXC == "kbd" else InjectedError

def scene(targets):
    """KIND examples: tx:none, rx:2, tx:0:held, both:2 (tx and rx of one new channel),
    twice:none (same handle twice), clones:2 (tx and tx.clone())"""
    parts = KIND.split(":")
    what, cap = parts[0], parts[1]
    held = "held" in parts
    carrier = os.environ.get("CARRIER", "none")
    tx, rx = mk(carrier)
    otx, orx = mk(cap)
    if what == "tx":
        sent = ("h", otx)
    elif what == "rx":
        sent = ("h", orx)
    elif what == "both":
        sent = ("h", otx, orx)
    elif what == "big":  # a large value (memfd) carrying a Sender and a Receiver of one new channel
        sent = ("h", otx, orx, b"x" * 70000)
    elif what == "three":  # three new channels' handles in one message
        extra = [mk(cap) for _ in range(2)]
        sent = ("h", otx, extra[0][0], extra[1][1])
    elif what == "twice":
        sent = ("h", otx, otx)
    elif what == "clones":
        c = otx.clone()
        sent = ("h", otx, c)
    sender = None
    sres = []
    if carrier == "0":
        import threading
        def _send(v=sent):
            try:
                tx.send_timeout(v, 3)
                sres.append("sent")
            except Exception as e:
                sres.append(repr(e))
        sender = threading.Thread(target=_send)
        sender.start()
        time.sleep(0.002)
    else:
        tx.send(sent)
    if what == "clones":
        c.close()
    keep = None
    if not held:
        if what in ("tx", "twice", "clones", "three"):
            otx.close()
        elif what == "rx":
            orx.close()
        else:
            otx.close(); orx.close()
    if what == "three":
        extra[0][0].close(); extra[1][1].close()
    del sent
    out = []
    inj = Multi(targets, landing) if targets else None
    if inj is None:
        out.append(rx.recv_timeout(5)); exc = None
    else:
        _, exc = quietly(inj, lambda: out.append(rx.recv_timeout(5)))
    got = list(out)
    while True:
        try:
            got.append(rx.recv_timeout(0.3) if sender is not None and sender.is_alive() and not got else rx.try_recv())
        except (mpsc.Empty, mpsc.Timeout):
            break
        except Exception as e:
            got.append(("ERR", repr(e)))
            break
    problems = []
    if sender is not None:
        sender.join(10)
        if (sres == ["sent"]) != (len(got) == 1):
            problems.append(("sender says", sres, "received", len(got)))
    if exc is not None and not isinstance(exc, landing):
        problems.append(("exc", repr(exc)))
    if len(got) != 1:
        problems.append(("got", repr(got)[:200]))
    ok_shape = len(got) == 1 and isinstance(got[0], tuple) and got[0][0] == "h"
    if len(got) == 1 and not ok_shape:
        problems.append(("shape", repr(got)[:200]))
    # same-endpoint checks
    if ok_shape and what == "clones" and len(got[0]) == 3:
        if got[0][1]._ep is not got[0][2]._ep and not os.environ.get("IGNORE_SPLIT"):
            problems.append(("clones on two endpoints",))
    if ok_shape:
        for h in got[0][1:]:
            if isinstance(h, (mpp.Sender, mpp.Receiver)):
                h.close()
    where = inj.where if inj else ""
    fired = inj.hits if inj else 0
    del got, out, exc, inj
    gc.collect()
    # disconnect check
    if held:
        if what in ("tx", "twice", "clones", "three"):
            otx.close()
        elif what == "rx":
            orx.close()
    if what in ("tx", "twice", "clones", "three") and not (held and False):
        try:
            orx.recv_timeout(1.0)
            problems.append(("received from carried",))
        except mpsc.RecvError:
            pass
        except mpsc.Timeout:
            problems.append(("carried channel stays connected",))
    elif what == "rx":
        try:
            otx.send_timeout(1, 0.2)
            problems.append(("carried rx side still open (send went through)",))
        except mpsc.SendError:
            pass
        except mpsc.Timeout:
            problems.append(("carried rx side still open (timeout)",))
    if what == "three":
        try:
            extra[0][1].recv_timeout(1.0); problems.append(("received from extra",))
        except mpsc.RecvError:
            pass
        except mpsc.Timeout:
            problems.append(("extra channel 1 stays connected",))
        try:
            extra[1][0].send_timeout(1, 0.2); problems.append(("extra rx still open",))
        except mpsc.SendError:
            pass
        except mpsc.Timeout:
            problems.append(("extra rx still open (timeout)",))
        extra[0][1].close(); extra[1][0].close()
    for h in (tx, rx, otx, orx):
        h.close()
    return fired, where, problems

def main():
    print("impl:", _implementation.in_use(), "kind:", KIND, "mode:", MODE, "exc:", EXC, flush=True)
    scene([])
    scene([])
    gc.collect()
    base = nfds()
    _, _, pr = scene([])
    gc.collect()
    assert nfds() == base, (base, nfds())
    # count points
    n = 1
    while True:
        fired, where, pr = scene([n])
        if not fired:
            break
        n += 1
    total = n - 1
    print("points:", total, flush=True)
    rnd = random.Random(int(os.environ.get("SEED", "1")))
    bad = 0
    runs = 0
    def check(targets):
        nonlocal bad, runs
        runs += 1
        fired, where, pr = scene(targets)
        gc.collect()
        now = nfds()
        if now != base:
            time.sleep(0.05); gc.collect(); now = nfds()
        if now != base:
            pr.append(("fds", base, now))
            if os.environ.get("DEBUGFD"):
                pr.append(sorted((f, os.readlink(f"/proc/self/fd/{f}")) for f in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{f}")))
        if pr:
            bad += 1
            if bad <= 8:
                print("BAD", targets, fired, where, pr, flush=True)
            globals()["base"] = now
            return now
        return base
    if MODE == "single":
        for n in range(1, total + 1):
            base = check([n])
    elif MODE == "pair":
        for _ in range(SAMPLES):
            a = rnd.randint(1, total); b = a + rnd.randint(1, 40)
            base = check([a, b])
    elif MODE == "exact":
        base = check([int(x) for x in os.environ["T"].split(",")])
    elif MODE == "region":
        a0 = int(os.environ.get("A0", "25")); a1 = int(os.environ.get("A1", str(total)))
        for a in range(a0, a1 + 1):
            for m in range(1, int(os.environ.get("MMAX", "40")) + 1):
                base = check([a, a + m])
    elif MODE == "region3":
        a0 = int(os.environ.get("A0", "25")); a1 = int(os.environ.get("A1", str(total)))
        for _ in range(SAMPLES):
            a = rnd.randint(a0, a1); b = a + rnd.randint(1, 25); c = b + rnd.randint(1, 25)
            base = check([a, b, c])
    elif MODE == "triple":
        for _ in range(SAMPLES):
            a = rnd.randint(1, total); b = a + rnd.randint(1, 30); c = b + rnd.randint(1, 30)
            base = check([a, b, c])
    print("runs:", runs, "bad:", bad, flush=True)
    sys.exit(1 if bad else 0)

main()
