import sys, time, signal, os, multiprocessing as mp, asyncio, trio, mpsc, mpsc.process as mpp
def sender(tx, n):
    for i in range(n): tx.send(i)
    time.sleep(60)
def receiver(rx):
    time.sleep(60)
async def trio_recv(cap):
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    p = mp.get_context("spawn").Process(target=sender, args=(tx, 3)); p.start(); tx.close()
    got = []
    for _ in range(3):
        with trio.fail_after(10): got.append(await rx.recv_async())
    await trio.sleep(0.2)
    t = time.monotonic(); p.kill()
    try:
        with trio.fail_after(5): await rx.recv_async()
        r = "value?"
    except mpsc.RecvError: r = f"RecvError after {time.monotonic()-t:.3f}s"
    except trio.TooSlowError: r = "no RecvError in 5 s"
    p.join(); rx.close()
    return got, r
async def trio_send(cap):
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    p = mp.get_context("spawn").Process(target=receiver, args=(rx,)); p.start(); rx.close()
    if cap is not None:
        for i in range(cap):
            await tx.send_async(i)
    await trio.sleep(0.2)
    t = time.monotonic()
    async def killer():
        await trio.sleep(0.1); p.kill()
    r = "?"
    async with trio.open_nursery() as n:
        n.start_soon(killer)
        try:
            with trio.fail_after(5):
                while True: await tx.send_async("x" * 1000)
        except mpsc.SendError: r = f"SendError {time.monotonic()-t-0.1:.3f}s after the kill"
        except trio.TooSlowError: r = "no SendError in 5 s"
    p.join(); tx.close()
    return r
if __name__ == "__main__":
    for cap in (None, 2, 0):
        print("trio recv cap", cap, trio.run(trio_recv, cap))
        print("trio send cap", cap, trio.run(trio_send, cap))
