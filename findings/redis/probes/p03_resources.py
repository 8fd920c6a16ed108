"""Probe: fds, threads, memory and server keys over many channels and event loops."""
import asyncio, gc, os, sys, threading, time, tracemalloc
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
def fds(): return len(os.listdir("/proc/self/fd"))
tx, rx = mr.channel(srv.url)
tx.send(0); rx.recv()
f0, th0 = fds(), threading.active_count()
tracemalloc.start()
m0 = tracemalloc.get_traced_memory()[0]
for i in range(1000):
    a, b = mr.channel(srv.url)
    a.send(i); b.recv()
    if i % 2: a.close(); b.close()
    del a, b
gc.collect(); time.sleep(1.0)
print("1000 channels: fds", f0, "->", fds(), "threads", th0, "->", threading.active_count(),
      "py mem +%d kB" % ((tracemalloc.get_traced_memory()[0] - m0) // 1024),
      "server keys", srv.command("DBSIZE"))
f1 = fds()
for i in range(100):
    async def one():
        await tx.send_async(i)
        return await rx.recv_async()
    asyncio.run(one())
gc.collect()
print("100 asyncio.run(): fds", f1, "->", fds())
# loop closed with a pending recv_async
loop = asyncio.new_event_loop()
t = loop.create_task(rx.recv_async())
loop.run_until_complete(asyncio.sleep(0.2))
loop.close()
del t, loop; gc.collect()
tx.send("after")
out = []
th = threading.Thread(target=lambda: out.append(rx.recv_timeout(2)), daemon=True); th.start(); th.join(4)
print("recv after a loop closed with a pending recv_async:", out or "BLOCKED (lock held)" if th.is_alive() else out)
