"""Throughput of the bare ring: P producer processes -> 1 consumer, a
(i, str) tuple pickled per message, C calls straight from Python loops."""
import os, pickle, sys, time
from mpsc.process import _ring

N = 400_000
PAD = "x" * 12
for P in (1, 4):
    best = 0.0
    for _ in range(3):
        fd = _ring.create(1 << 20); r = _ring.Ring(fd); os.close(fd)
        pids = []
        for p in range(P):
            pid = os.fork()
            if pid == 0:
                push, dumps = r.push, pickle.dumps
                for i in range(p, N, P):
                    body = dumps((i, PAD))
                    while not push(body):
                        os.sched_yield()
                os._exit(0)
            pids.append(pid)
        pop, loads = r.pop, pickle.loads
        total = got = 0
        t = time.perf_counter()
        while got < N:
            body = pop()
            if body is None:
                continue
            total += loads(body)[0]; got += 1
        dt = time.perf_counter() - t
        for pid in pids:
            os.waitpid(pid, 0)
        assert total == N * (N - 1) // 2
        best = max(best, N / dt)
    print(f"{P} -> 1 ring: {best/1e3:.0f} k msg/s", flush=True)
