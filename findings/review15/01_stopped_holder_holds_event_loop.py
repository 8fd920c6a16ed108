"""A ring lock holder that does not run holds up every other task of an asyncio event loop.

Promises: DESIGN.md §10 "*A holder that does not run holds nobody up.* A locker waits at most
20 ms for a busy lock (...), then gets ``TimeoutError``, and the Python code goes its own way";
DESIGN.md §10 "asyncio waits (``add_reader``) do not spin: an event loop must not be held";
/work/shared/DESIGN.md §4.7 (blocking calls stay interruptible / nothing is held up).

What happens: the pure ring calls (``ring.take`` / ``ring.push``) wait for the busy lock in
``pthread_mutex_clocklock`` for 20 ms *on the event loop's thread* (the GIL is let go, but the
loop is not: no other task runs). ``select_async`` over a Receiver whose ring has records then
loops try_recv (20 ms blocked) -> ``ring.ready()`` true -> an always-ready fd -> try_recv again:
the loop is held almost all the time; ``send_async`` blocks 20 ms then sleeps 10 ms
(``CONGESTED_WAIT``) -> held ~2/3 of the time; ``recv_async`` 20 ms of every ~120 ms. A 1 ms
ticker task on the same loop sees gaps of 20 ms and far fewer ticks. (The holder is stopped with
SIGSTOP, as tests/test_process_ring.py's own test does: a debugger, Ctrl-Z, a cgroup freezer.)

Exit 1 when a ticker on the loop sees a gap >= 15 ms while one such call is pending.
"""

import asyncio
import os
import signal
import sys
import time

import mpsc
import mpsc.process

RUN = 1.0


async def measure(make_call):
    gaps = []
    stop = False

    async def ticker():
        last = time.monotonic()
        while not stop:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    gaps.clear()
    call = asyncio.create_task(make_call())
    await asyncio.sleep(RUN)
    call.cancel()
    try:
        await call
    except (asyncio.CancelledError, Exception):
        pass
    stop = True
    await t
    return max(gaps) if gaps else RUN, len(gaps), sum(g for g in gaps if g > 0.005)


def main() -> int:
    tx, rx = mpsc.process.channel()
    for i in range(3):
        tx.send(i)  # records in the ring
    ring = rx._ep.ring
    assert ring is not None, "no ring (MPSC_PURE set or _ring not built)"
    pid = os.fork()
    if pid == 0:
        try:
            ring._stop_holding_lock()
        finally:
            os._exit(1)
    bad = False
    try:
        assert os.waitpid(pid, os.WUNTRACED)[1] & 0xFF == 0x7F  # stopped, holding the lock
        cases = {
            "select_async(rx)": lambda: mpsc.select_async(rx),
            "send_async(x)": lambda: tx.send_async("x"),
            "recv_async()": lambda: rx.recv_async(),
        }
        for name, make in cases.items():
            worst, ticks, held = asyncio.run(measure(make))
            print(f"{name:18} longest loop stall {worst * 1000:6.1f} ms, {ticks:4d} ticks of 1 ms in {RUN} s, "
                  f"{held / RUN:4.0%} of the time in stalls > 5 ms")
            bad |= worst >= 0.015
    finally:
        os.kill(pid, signal.SIGCONT)
        os.waitpid(pid, 0)
    got = [rx.recv_timeout(2) for _ in range(3)]
    assert got == [0, 1, 2], got
    print("DEFECT: the event loop is held while another process holds the ring lock" if bad else "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
