"""SIGALRM (setitimer; a handler raising ``Boom(Exception)`` or, with EXC=kbd,
``KeyboardInterrupt``) during receives, counting every message.

Promise (today's change, 448dd18 / 3b60159; mpsc.redis doc "An interrupt never costs a message";
mpsc.process doc): an exception that a signal handler raises and that lands in mpsc's own code of
a receive (the call, a carried handle's adoption, the return) loses no message; only one landing
in the value's own unpickling code (its Python ``__reduce__`` reconstructor) consumes it
(documented limit, counted separately: the seq whose reconstructor the exception came through).

FLAVOR=redis|process, KIND=unbounded|bounded4|rendezvous, EXC=boom|kbd, N messages cycling:
plain tuple, tuple with a Sender of another channel, a value with a Python reconstructor, both.
A thread sends (signals land only in the main thread, which receives). Exit 1 if a message that
no interrupt in its own code touched is missing, or any is received twice.
"""

import os
import signal
import sys
import threading
import time

import mpsc

FLAVOR = os.environ.get("FLAVOR", "redis")
KIND = os.environ.get("KIND", "unbounded")
EXC = os.environ.get("EXC", "boom")
N = int(os.environ.get("N", "300"))
CALL = os.environ.get("CALL", "recv")  # recv (recv_timeout), try (try_recv), select (Select.select)
SPREAD = int(os.environ.get("SPREAD", "3000"))  # the timer's spread, in us

if FLAVOR == "redis":
    import mpsc.redis as m

    URL = "redis://127.0.0.1:%s/0" % open("/tmp/r8redis/port").read().strip()

    def make(cap):
        if cap is None:
            return m.unbounded(URL)
        return m.bounded(URL, cap)

    from mpsc.redis._handles import _rebuild as ADOPT
else:
    import mpsc.process as m

    def make(cap):
        if cap is None:
            return m.unbounded()
        return m.bounded(cap)

    from mpsc.process._travel import _from_message as ADOPT


class Boom(Exception):
    pass


current = [None]


def py_rebuild(seq):
    current[0] = seq
    x = 0
    for k in range(300):
        x += k
    return Recon(seq)


class Recon:
    def __init__(self, seq):
        self.seq = seq

    def __reduce__(self):
        return (py_rebuild, (self.seq,))


armed = False
running = [True]
tick = [0]


def handler(signum, frame):
    tick[0] += 1
    if not running[0]:
        return
    signal.setitimer(signal.ITIMER_REAL, 0.0002 + (tick[0] * 7919 % SPREAD) / 1e6)
    if armed:
        if EXC == "kbd":
            raise KeyboardInterrupt
        raise Boom


def came_through(exc, code):
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


def own_seq(exc):
    """The seq of the value whose own reconstructor the exception came out of (None if not)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is py_rebuild.__code__:
            return tb.tb_frame.f_locals["seq"]
        tb = tb.tb_next
    return None


def seq_of(v):
    k = v[0] % 4
    if k in (2, 3):
        assert isinstance(v[1], Recon) and v[1].seq == v[0], v
    if k in (1, 3):
        h = v[2]
        assert type(h).__name__ == "Sender", v
        h.send(("via", v[0]))
        h.close()
    return v[0]


def nop():
    pass


def main():
    global armed
    cap = {"unbounded": None, "bounded4": 4, "rendezvous": 0}[KIND]
    tx, rx = make(cap)
    otx, orx = make(None)
    errs = []

    def sender():
        for i in range(N):
            k = i % 4
            v = (i, Recon(i) if k in (2, 3) else None, otx if k in (1, 3) else None)
            try:
                tx.send(v)
            except BaseException as e:
                errs.append(f"send {i}: {e!r}")
                return

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    got = []
    own_limit = set()  # seqs an exception came out of their own reconstructor
    adopt_hits = 0
    booms = 0
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    t0 = time.monotonic()
    last = [None]
    last_got = [time.monotonic()]
    sel = mpsc.Select(rx) if CALL == "select" else None

    def call(t):
        if CALL == "try":
            return rx.try_recv()
        if CALL == "select":
            return sel.select(timeout=t)[1]
        return rx.recv_timeout(t)

    while time.monotonic() - t0 < float(os.environ.get("FOR", "60")):
        current[0] = None
        last[0] = None
        armed = True
        try:
            for last[0] in map(call, (3.0,)):
                break
            armed = False
            nop()  # (an exception raised "right after" the return lands here)
        except (Boom, KeyboardInterrupt) as e:
            armed = False
            booms += 1
            seq = own_seq(e)
            if seq is not None:
                own_limit.add(seq)
            if came_through(e, ADOPT.__code__):
                adopt_hits += 1
        except mpsc.Empty:
            armed = False
            if time.monotonic() - last_got[0] > 3.0:
                break
        except mpsc.Timeout:
            armed = False
            break
        except mpsc.RecvError:
            armed = False
            break
        armed = False
        if last[0] is not None:  # returned (maybe with an exception raised right after)
            got.append(seq_of(last[0]))
            last_got[0] = time.monotonic()
        if len(set(got)) + len(own_limit - set(got)) >= N and not t.is_alive():
            break
    running[0] = False
    armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)
    time.sleep(0.01)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    t.join(10)
    try:
        while True:
            got.append(seq_of(rx.try_recv()))
    except (mpsc.Empty, mpsc.RecvError):
        pass
    dup = len(got) - len(set(got))
    missing = set(range(N)) - set(got)
    limit = missing & own_limit
    defect = missing - own_limit
    print(f"{FLAVOR} {KIND} {EXC} {CALL} spread={SPREAD}: N={N} received={len(set(got))} dup={dup} interrupts={booms} "
          f"in-adoption={adopt_hits} lost-by-documented-limit={len(limit)} {sorted(limit)[:10]} "
          f"LOST-undocumented={len(defect)} {sorted(defect)[:10]} (kinds {[d % 4 for d in sorted(defect)][:10]}) "
          f"errors={errs[:3]}")
    for h in (tx, rx, otx, orx):
        h.close()
    return 1 if (defect or dup or errs) else 0


if __name__ == "__main__":
    sys.exit(main())
