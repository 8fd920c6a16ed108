"""On CPython 3.11, with one thread left in ``threading._limbo`` (see 07), a receive that took its
value and has an interrupt to deliver after its return never returns while a periodic signal
whose handler raises keeps arriving faster than every 50 ms: each interrupt lands in
``_interrupts._wait_started`` (a 0.1 ms sleep loop inside ``finish`` → ``defer``), ``finish``
restarts and waits 50 ms again, one frame deeper each time — a livelock holding the message.

Promise: DESIGN.md §5 "An operation therefore either did not happen ... or happened and returns its
result (the exception is raised right after)"; DESIGN table "3 no lost wake-up, no deadlock", "7
interruptible, nothing lost to an interrupt"; §5's limit speaks of "a third and fourth landing in
the same few microseconds" — here the window is 50 ms per try, and it never closes.

What happens: the script leaves a Thread in ``_limbo`` (a KeyboardInterrupt at check point 2 of
``Thread.start``), then receives 2000 large values from a process channel (the compiled receive
hands them to the pure code) with SIGALRM every 1 ms raising KeyboardInterrupt during each
receive. Control (a child process, same, without the thread in limbo): all received in well under
a second. With it: once an interrupt lands after a receive took its value, the receive never
returns (faulthandler shows ``_wait_started`` under hundreds of nested ``finish`` frames); a
watchdog ends the run after 20 s. 3.11 only (exits 0 on 3.12+). New in d8a5ae9. Exit 1 if the
run with the thread in limbo does not finish while the control does.
"""

import _thread
import os
import signal
import subprocess
import sys
import threading
import time

import mpsc
import mpsc.process as mpp
from mpsc import _interrupts

if getattr(_interrupts, "_UNSTARTED", None) is None:
    print("not CPython < 3.12: no wait")
    sys.exit(0)

N, PERIOD, LIMIT = 2000, 0.001, 20.0


def leave_thread_in_limbo():
    start = threading.Thread.start.__code__
    t = threading.Thread(target=lambda: None)
    st = {"c": 0, "on": True}

    def pend():
        for _ in map(_thread.interrupt_main, (signal.SIGUSR2,)):
            break

    def handler(s, f):
        if not st["on"]:
            return
        if f is not None and f.f_code is start:
            st["c"] += 1
            if st["c"] == 2:
                st["on"] = False
                raise KeyboardInterrupt
        pend()

    prev = signal.signal(signal.SIGUSR2, handler)
    try:
        pend()
        t.start()
    except KeyboardInterrupt:
        pass
    st["on"] = False
    signal.signal(signal.SIGUSR2, prev)
    return t in threading._limbo


def storm():
    tx, rx = mpp.channel()
    on = {"v": False}

    def alarm(s, f):
        if on["v"]:
            raise KeyboardInterrupt

    def noop():
        pass

    def one():
        v = None
        try:
            on["v"] = True
            v = rx.recv_timeout(0.2)
            on["v"] = False
            noop()  # a deferred interrupt lands here, after v is stored
        except KeyboardInterrupt:
            on["v"] = False
        except mpsc.Timeout:
            on["v"] = False
            return "timeout"
        on["v"] = False
        return v

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, PERIOD, PERIOD)
    got = 0
    for i in range(N):
        tx.send((i, b"x" * 70000))
        while True:
            try:
                r = one()
            except KeyboardInterrupt:
                continue
            if r is not None:
                got += r != "timeout"
                break
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    return got


if len(sys.argv) > 1:  # a run: "limbo" or "control"
    if sys.argv[1] == "limbo":
        print("thread in limbo:", leave_thread_in_limbo(), flush=True)
    t0 = time.monotonic()
    got = storm()
    print(f"{sys.argv[1]}: received {got} of {N} in {time.monotonic() - t0:.2f} s", flush=True)
    sys.exit(0)


def run(kind):
    try:
        p = subprocess.run([sys.executable, __file__, kind], timeout=LIMIT, capture_output=True, text=True)
        print(p.stdout.strip())
        return p.returncode == 0
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        print(out.strip())
        print(f"{kind}: no end after {LIMIT:.0f} s (a receive livelocked in finish/_wait_started)")
        return False


control = run("control")
limbo = run("limbo")
sys.exit(1 if control and not limbo else 0)
