"""Two-process SIGALRM stress of compiled send/recv: producers (spawned children) and the
consumer (parent) are both interrupted; every message counted, per-producer FIFO checked."""
import os, signal, sys, time, multiprocessing as mp
import mpsc, mpsc.process as m

N = int(os.environ.get("N", "600"))
P = int(os.environ.get("P", "2"))
EXC = os.environ.get("EXC", "kbd")
CALL = os.environ.get("CALL", "try")  # try | recv | iter
KINDS = os.environ.get("KINDS", "sLhr")  # s small, L large, h handle, r reconstructor
FOR = float(os.environ.get("FOR", "60"))
SPREAD = int(os.environ.get("SPREAD", "2000"))


class Boom(Exception):
    pass


def rebuild(p, i):
    x = 0
    for k in range(200):
        x += k
    return Recon(p, i)


class Recon:
    def __init__(self, p, i):
        self.p, self.i = p, i

    def __reduce__(self):
        return (rebuild, (self.p, self.i))


state = {"armed": False, "run": True, "tick": 0}


def handler(signum, frame):
    state["tick"] += 1
    if not state["run"]:
        return
    signal.setitimer(signal.ITIMER_REAL, 0.00005 + (state["tick"] * 7919 % SPREAD) / 1e6)
    if state["armed"]:
        if EXC == "kbd":
            raise KeyboardInterrupt
        raise Boom


def nop():
    pass


def value(p, i, otx):
    k = KINDS[i % len(KINDS)]
    if k == "s":
        return (p, i, k)
    if k == "L":
        return (p, i, k, bytes([i % 251]) * 70_000)
    if k == "h":
        return (p, i, k, otx)
    if k in "nN":  # a fresh channel per message, both sides carried: new endpoints each time
        ntx, nrx = (m.channel, lambda: m.sync_channel(2), lambda: m.sync_channel(0))[i % 3]()
        if k == "N":  # ... in a large value (memfd)
            return (p, i, k, ntx, nrx, bytes([i % 251]) * 70_000)
        return (p, i, k, ntx, nrx)
    return (p, i, k, Recon(p, i))


def producer(p, tx, otx, q):
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    interrupts = resent = 0
    early = []
    for i in range(N):
        v = value(p, i, otx)
        while True:
            sent = False
            state["armed"] = True
            try:
                for _ in map(tx.send, (v,)):
                    sent = True
                    break
                state["armed"] = False
                nop()
            except (Boom, KeyboardInterrupt) as e:
                state["armed"] = False
                interrupts += 1
                if i < 3:
                    tb = e.__traceback__; names = []
                    while tb is not None:
                        names.append(tb.tb_frame.f_code.co_name); tb = tb.tb_next
                    early.append((i, sent, names[-5:]))
            state["armed"] = False
            if sent:
                break
            resent += 1
        if len(v) >= 5 and v[2] in "nN":
            v[3].close(); v[4].close()
    state["run"] = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    q.put((p, interrupts, resent, early[:6]))
    tx.close()
    otx.close()


def main():
    ctx = mp.get_context("spawn")
    tx, rx = m.channel()
    otx, orx = m.channel()
    q = ctx.Queue()
    procs = [ctx.Process(target=producer, args=(p, tx, otx, q)) for p in range(P)]
    for pr in procs:
        pr.start()
    tx.close()
    otx.close()
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    got = []
    last = [None]
    interrupts = own = 0
    own_seqs = set()
    global adopt_names
    adopt_names = []
    it = iter(rx)

    def call():
        if CALL == "try":
            return rx.try_recv()
        if CALL == "iter":
            return next(it)
        return rx.recv()

    fds0 = len(os.listdir("/proc/self/fd"))
    t0 = time.monotonic()
    done = False
    while CALL == "for" and time.monotonic() - t0 < FOR and not done:
        state["armed"] = True
        try:
            for v in rx:
                got.append(v)
            state["armed"] = False
            done = True
        except (Boom, KeyboardInterrupt) as e:
            state["armed"] = False
            interrupts += 1
            tb = e.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code is rebuild.__code__:
                    own += 1
                    own_seqs.add((tb.tb_frame.f_locals["p"], tb.tb_frame.f_locals["i"]))
                tb = tb.tb_next
        state["armed"] = False
    while time.monotonic() - t0 < FOR and not done:
        last[0] = None
        state["armed"] = True
        try:
            for last[0] in map(call_wrap, (call,)):
                break
            state["armed"] = False
            nop()
        except (Boom, KeyboardInterrupt) as e:
            state["armed"] = False
            interrupts += 1
            tb = e.__traceback__
            names = []
            while tb is not None:
                names.append(tb.tb_frame.f_code.co_name)
                if tb.tb_frame.f_code is rebuild.__code__:
                    own += 1
                    own_seqs.add((tb.tb_frame.f_locals["p"], tb.tb_frame.f_locals["i"]))
                tb = tb.tb_next
            if "_from_message" in names or "adopt" in names:
                adopt_names.append(names[-4:])
        except mpsc.Empty:
            state["armed"] = False
        except (mpsc.RecvError, StopIteration):
            state["armed"] = False
            done = True
        state["armed"] = False
        if last[0] is not None:
            got.append(last[0])
    state["run"] = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    stats = [q.get(timeout=30) for _ in procs]
    for pr in procs:
        pr.join(30)
    # check
    seen = {}
    dup = fifo = bad = 0
    lastseq = {}
    for v in got:
        key = (v[0], v[1])
        if key in seen:
            dup += 1
        seen[key] = v
        if v[1] <= lastseq.get(v[0], -1):
            fifo += 1
        lastseq[v[0]] = v[1]
        k = v[2]
        if k == "L" and v[3] != bytes([v[1] % 251]) * 70_000:
            bad += 1
        if k == "h":
            try:
                v[3].send(("via", key))
                v[3].close()
            except Exception as e:
                bad += 1
        if k in "nN":
            ntx, nrx = v[3], v[4]
            try:
                if ntx._ep.capacity == 0:
                    ntx.close()
                else:
                    ntx.send("z")
                    assert nrx.recv_timeout(2) == "z"
                    ntx.close()
                try:
                    nrx.recv_timeout(2)
                    bad += 1
                except mpsc.RecvError:
                    pass
                nrx.close()
            except Exception as e:
                print("n-check failed", key, repr(e))
                bad += 1
        if k == "r" and not (isinstance(v[3], Recon) and v[3].i == v[1]):
            bad += 1
    missing = [(p, i) for p in range(P) for i in range(N) if (p, i) not in seen]
    limit = [k for k in missing if k in own_seqs]
    lost = [k for k in missing if k not in own_seqs]
    via = 0
    try:
        while True:
            orx.try_recv()
            via += 1
    except (mpsc.Empty, mpsc.RecvError):
        pass
    print(f"{CALL} {EXC} kinds={KINDS} P={P} N={N}: received={len(seen)} dup={dup} fifo-violations={fifo} bad={bad} "
          f"recv-interrupts={interrupts} (own code {own}) lost-by-limit={len(limit)} LOST={len(lost)} {lost[:8]} "
          f"producers(p, interrupts, resent)={stats} via={via} exit={[pr.exitcode for pr in procs]}")
    print("interrupts through adoption:", len(adopt_names), adopt_names[:4])
    del got, seen
    import gc; gc.collect(); time.sleep(0.2); gc.collect()
    fds1 = len(os.listdir("/proc/self/fd"))
    print("parent fds before receiving:", fds0, "after all closed:", fds1)
    if fds1 > fds0 + 2:
        bad += 1
    return 1 if (lost or dup or fifo or bad) else 0


def call_wrap(f):
    return f()


if __name__ == "__main__":
    sys.exit(main())
