import sys, time, trio, asyncio, mpsc, mpsc.process as mpp
N = 100000
import threading
def start(kind):
    tx, rx = mpsc.channel() if kind == "thread" else mpp.channel()
    def prod():
        try:
            for i in range(N): tx.send(i)
        except mpsc.SendError:
            pass
    threading.Thread(target=prod, daemon=True).start()
    time.sleep(0.2)
    return tx, rx
async def trio_main(kind):
    tx, rx = start(kind)
    ticks = []
    got = 0
    async def heartbeat():
        while True:
            ticks.append(time.monotonic()); await trio.sleep(0.005)
    async with trio.open_nursery() as n:
        n.start_soon(heartbeat)
        await trio.sleep(0.02)
        t0 = time.monotonic()
        with trio.move_on_after(0.1) as cs:
            while True:
                await rx.recv_async(); got += 1
                if got == N: break
        el = time.monotonic() - t0
        n.cancel_scope.cancel()
    during = [t for t in ticks if t0 <= t <= t0 + el]
    print(f"trio {kind}: drained {got} in {el:.3f}s; move_on_after(0.1) {'fired' if cs.cancelled_caught else 'did NOT fire'}; heartbeat ticks during the drain: {len(during)}")
    return cs.cancelled_caught
async def aio_main(kind):
    tx, rx = start(kind)
    ticks = []
    async def heartbeat():
        while True:
            ticks.append(time.monotonic()); await asyncio.sleep(0.005)
    hb = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.02)
    got = 0; t0 = time.monotonic(); fired = False
    try:
        async with asyncio.timeout(0.1):
            while got < N:
                await rx.recv_async(); got += 1
    except TimeoutError:
        fired = True
    el = time.monotonic() - t0
    hb.cancel()
    during = [t for t in ticks if t0 <= t <= t0 + el]
    print(f"asyncio {kind}: drained {got} in {el:.3f}s; timeout(0.1) {'fired' if fired else 'did NOT fire'}; heartbeat ticks during the drain: {len(during)}")
    return fired
ok = True
for kind in ("thread", "process"):
    ok &= trio.run(trio_main, kind)
for kind in ("thread", "process"):
    ok &= asyncio.run(aio_main(kind))
sys.exit(0 if ok else 1)
