"""The look-before-sleep (SPIN = 50 us of poll(0)) in process waits and select's PollWaiter.

Promises (DESIGN §10 / 54b482b): a wait looks without sleeping for up to 50 us, then sleeps in
poll; "Waits longer than this cost it in CPU time once per sleep"; recv_timeout's deadline is
kept. Probes, each counted:
 a. one thread blocked 2 s in recv_timeout on a process channel: CPU seconds per second waited;
 b. 50 threads blocked 2 s at once: process CPU per second; all 50 then get one message each;
 c. recv_timeout(t) for t in 0, 1e-6, 1e-5, 1e-3 on an empty channel: Timeout each time, p99
    and max overshoot past t;
 d. select over a process Receiver + a thread Receiver, woken by a thread-channel send from
    another thread, 10^4 round trips (a reply channel back), counted;
 e. select blocked 2 s on process + thread receivers: CPU per second;
 f. ping-pong between two processes, 20000 round trips, every value checked.
Exit 1 if any CPU/s > 0.05, a p99 overshoot > 5 ms, a max overshoot > 20 ms, or a count is off.
"""

import multiprocessing as mp
import os
import resource
import sys
import threading
import time

import mpsc
import mpsc.process as mpp

bad = []
if os.environ.get("NOSPIN"):  # baseline: waits as before 54b482b (no look before the sleep)
    import mpsc._waiters
    import mpsc.process._waiting

    mpsc._waiters.SPINNING = False
    mpsc.process._waiting.SPINNING = False


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def a_one_blocked():
    tx, rx = mpp.unbounded()
    res = {}

    def w():
        t0, c0 = time.monotonic(), time.thread_time()
        try:
            rx.recv_timeout(2.0)
        except mpsc.Timeout:
            pass
        res["cpu"] = (time.thread_time() - c0) / (time.monotonic() - t0)

    th = threading.Thread(target=w)
    th.start()
    th.join(10)
    print(f"a. one recv blocked 2 s: {res['cpu']:.5f} CPU s/s")
    if res["cpu"] > 0.05:
        bad.append("a")
    tx.close(), rx.close()


def b_fifty():
    tx, rx = mpp.unbounded()
    got = []
    lock = threading.Lock()

    def w():
        v = rx.recv_timeout(20.0)
        with lock:
            got.append(v)

    ths = [threading.Thread(target=w) for _ in range(50)]
    for t in ths:
        t.start()
    time.sleep(0.3)
    c0, t0 = cpu_self(), time.monotonic()
    time.sleep(2.0)
    cpu = (cpu_self() - c0) / (time.monotonic() - t0)
    for i in range(50):
        tx.send(i)
    for t in ths:
        t.join(30)
    ok = sorted(got) == list(range(50))
    print(f"b. 50 threads blocked in recv: {cpu:.4f} CPU s/s (whole process); received {len(got)}/50 distinct={len(set(got))}")
    if cpu > 0.05 or not ok:
        bad.append("b")
    tx.close(), rx.close()


def c_tiny():
    tx, rx = mpp.bounded(4)
    for t in (0, 1e-6, 1e-5, 1e-3):
        over = []
        wrong = 0
        for _ in range(2000):
            s = time.monotonic()
            try:
                rx.recv_timeout(t)
                wrong += 1
            except mpsc.Timeout:
                pass
            over.append(time.monotonic() - s - t)
        over.sort()
        p99, mx = over[int(len(over) * 0.99)], over[-1]
        print(f"c. recv_timeout({t}): 2000 calls, not-Timeout={wrong}, overshoot median={over[1000]*1e6:.1f} us p99={p99*1e6:.1f} us max={mx*1e6:.1f} us")
        if wrong or p99 > 0.005 or mx > 0.02:
            bad.append(f"c{t}")
    tx.close(), rx.close()


def d_select_thread_wake():
    ptx, prx = mpp.unbounded()
    ttx, trx = mpsc.channel()
    btx, brx = mpsc.channel()
    n = 10000

    def peer():
        for i in range(n):
            ttx.send(i)
            brx.recv()

    th = threading.Thread(target=peer)
    t0 = time.monotonic()
    th.start()
    got = []
    for _ in range(n):
        idx, v = mpsc.Select(prx, trx).select(timeout=5)
        got.append((idx, v))
        btx.send(None)
    th.join(10)
    dt = time.monotonic() - t0
    ok = got == [(1, i) for i in range(n)]
    print(f"d. select(process rx, thread rx) woken by thread send: {len(got)}/{n} in order={ok} ({n/dt:.0f} round trips/s)")
    if not ok:
        bad.append("d")
    for h in (ptx, prx, ttx, trx, btx, brx):
        h.close()


def e_select_blocked_cpu():
    ptx, prx = mpp.unbounded()
    ttx, trx = mpsc.channel()
    c0, t0 = time.thread_time(), time.monotonic()
    try:
        mpsc.select(prx, trx, timeout=2.0)
    except mpsc.Timeout:
        pass
    cpu = (time.thread_time() - c0) / (time.monotonic() - t0)
    print(f"e. select over process+thread rx blocked 2 s: {cpu:.5f} CPU s/s")
    if cpu > 0.05:
        bad.append("e")
    for h in (ptx, prx, ttx, trx):
        h.close()


def pong(rx, tx, n):
    for _ in range(n):
        tx.send(rx.recv() + 1)


def f_pingpong():
    n = 20000
    atx, arx = mpp.bounded(1)
    btx, brx = mpp.bounded(1)
    ctx = mp.get_context("fork")
    p = ctx.Process(target=pong, args=(arx, btx, n))
    t0 = time.monotonic()
    p.start()
    wrong = 0
    for i in range(n):
        atx.send(2 * i)
        if brx.recv_timeout(10) != 2 * i + 1:
            wrong += 1
    p.join(10)
    dt = time.monotonic() - t0
    print(f"f. ping-pong between 2 processes: {n} round trips, wrong={wrong}, child exit={p.exitcode} ({n/dt:.0f}/s)")
    if wrong or p.exitcode != 0:
        bad.append("f")


for f in [globals()[n] for n in os.environ["ONLY"].split(",")] if os.environ.get("ONLY") else (a_one_blocked, b_fifty, c_tiny, d_select_thread_wake, e_select_blocked_cpu, f_pingpong):
    f()
print("bad:", bad)
sys.exit(1 if bad else 0)
