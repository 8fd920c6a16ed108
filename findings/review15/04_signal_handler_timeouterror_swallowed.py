"""A signal handler's ``TimeoutError`` (the usual SIGALRM time limit) landing in the ring's
pure send or receive is swallowed: taken for "the ring's lock is busy". The interrupt is lost:
a send goes on and returns normally, a receive goes on waiting (for ever, if nothing comes).

Promises: /work/shared/DESIGN.md §4.7 "Blocking calls stay interruptible (...), and an interrupt
never costs a message: whatever exception arrives (KeyboardInterrupt, one raised by a signal
handler, a cancellation), either the call did not happen or its result reaches the caller";
DESIGN.md §5 (an exception landing after the operation happened is raised right after the
return; a signal handler "may raise an ``Exception`` as well as a ``KeyboardInterrupt``").

What happens: review 14's fix made the ring's lock wait raise ``TimeoutError`` (an ``OSError``)
and catches it by class around code that has check points of its own:
``_handles._try_push``'s ``try: return _push_or_mark(call, value, ring) except TimeoutError:
return []`` (the function's start, each ``map(...)`` call, ``len()``, ``type()`` are check
points) and ``_wire.Taking.take_from``'s ``try: for self.raw in map(ring.take, (fd,)) ...
except TimeoutError: return False`` (the ``map`` call), and ``_select``'s ``ring.room()``. A
handler's ``TimeoutError`` landing there is caught as the lock's: the send sleeps 10 ms and
pushes (returns normally: the exception is gone), the receive reports nothing there and waits.
Run with the project's real-signal check point injector (tests/checkpoints.py), at every check
point of a pure send (the path of every send on free-threaded builds, and of the compiled one
whenever its step hands over) and of a pure receive with a deadline on an empty channel (the
path of select, recv_async, and every receive that falls back).

Exit 1 when a handler's exception is lost at any check point.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../review13"))
from _pairs import run  # noqa: E402

import mpsc  # noqa: E402
import mpsc.process  # noqa: E402
from mpsc._deadlines import deadline_after  # noqa: E402  (what recv_timeout passes)


class Alarm(TimeoutError):
    """What a SIGALRM handler raises to bound a call."""


def drain(rx):
    got = []
    while True:
        try:
            got.append(rx.try_recv())
        except mpsc.Empty:
            return got


def case_send(n):
    tx, rx = mpsc.process.channel()
    hits, where, exc = run(lambda: tx._send("v", None, False), [n], Alarm)
    got = drain(rx)
    tx.close()
    rx.close()
    problem = None
    if hits and not isinstance(exc, Alarm):
        problem = f"the send returned normally ({got} sent), the handler's exception is gone"
    elif len(got) > 1:
        problem = f"sent twice: {got}"
    return hits, where, problem


def case_recv(n):
    tx, rx = mpsc.process.channel()
    t0 = time.monotonic()
    hits, where, exc = run(lambda: rx._recv(deadline_after(0.3), False), [n], Alarm)
    took = time.monotonic() - t0
    tx.close()
    rx.close()
    problem = None
    if hits and not isinstance(exc, Alarm):
        problem = f"the receive went on waiting and ended with {exc!r} after {took:.2f} s"
    return hits, where, problem


bad = 0
for name, case in [("send", case_send), ("recv_timeout(0.3) on an empty channel", case_recv)]:
    n = 1
    while True:
        hits, where, problem = case(n)
        if not hits:
            break
        if problem:
            bad += 1
            print(f"{name}: handler's TimeoutError at check point {n} ({where.strip()}): {problem}")
        n += 1
    print(f"{name}: {n - 1} check points tried", flush=True)
print(f"DEFECT: {bad} check points lose a signal handler's TimeoutError" if bad else "ok")
sys.exit(1 if bad else 0)
