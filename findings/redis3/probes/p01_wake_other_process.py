"""A sender blocked on a full bounded channel; a receiver in ANOTHER process receives once and
idles. How long until the send returns? Also XLEN never above the bound."""
import os, sys, time, subprocess, statistics
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc.redis

srv = server(persist=False)
url = srv.url
CHILD = r'''
import sys, time, mpsc.redis, os
url, name, cap, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tx, rx = mpsc.redis.bounded(url, cap, name=name)
tx.close()
for i in range(n):
    line = sys.stdin.readline()
    if not line: break
    mode = sys.argv[5]
    if mode == "recv": v = rx.recv()
    elif mode == "async":
        import asyncio; v = asyncio.run(rx.recv_async())
    elif mode == "select":
        import mpsc; t2, r2 = mpsc.channel(); i, v = mpsc.select(r2, rx)
    elif mode == "try":
        import mpsc
        while True:
            try: v = rx.try_recv(); break
            except mpsc.Empty: time.sleep(0.001)
    elif mode == "timeout": v = rx.recv_timeout(5)
    sys.stdout.write(f"{time.monotonic()} {v}\n"); sys.stdout.flush()
    time.sleep(float(line))  # idle
rx.close()
'''
worst = []
for cap, mode in [(1, m) for m in ("recv", "async", "select", "try", "timeout")] + [(3, "recv")]:
    name = f"wake{cap}{mode}"
    tx, rx0 = mpsc.redis.bounded(url, cap, name=name)
    p = subprocess.Popen([sys.executable, "-c", CHILD, url, name, str(cap), "30", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    rx0.close()
    for i in range(cap):
        tx.send(i)
    lat = []
    for k in range(30):
        p.stdin.write("0.3\n"); p.stdin.flush()
        t0 = time.monotonic()
        tx.send(100 + k)  # blocks until the child's receive makes room
        t1 = time.monotonic()
        got = p.stdout.readline().split()
        t_recv = float(got[0])
        lat.append(t1 - t_recv)
        xlen = srv.command("XLEN", f"{name}")
        if xlen > cap:
            print("XLEN", xlen, "> cap", cap)
        time.sleep(0.05)
    p.stdin.close(); p.wait(10)
    print(f"cap={cap} mode={mode}: wake after child's recv: median {statistics.median(lat)*1000:.1f} ms, max {max(lat)*1000:.1f} ms")
    worst.append(max(lat))
    tx.close()
sys.exit(1 if max(worst) > 0.1 else 0)
