import sys, time, trio, mpsc, mpsc.process as mpp
K = int(sys.argv[1]) if len(sys.argv) > 1 else 100
async def main():
    tx, rx = mpp.channel()
    got = []
    async def waiter():
        got.append(await rx.recv_async())
    lat = []
    async with trio.open_nursery() as n:
        for _ in range(K): n.start_soon(waiter)
        await trio.sleep(0.5)
        t = time.monotonic()
        await trio.to_thread.run_sync(lambda: None)
        lat.append(time.monotonic() - t)
        t = time.monotonic()
        for i in range(K): tx.send(i)
        with trio.fail_after(10):
            while len(got) < K: await trio.sleep(0.001)
        print("all", K, "served in", round(time.monotonic()-t, 3), "s; a user to_thread call waited", round(lat[0], 3), "s")
    # closing from another task
    tx2, rx2 = mpp.channel()
    async def closer():
        await trio.sleep(0.2); rx2.close()
    t = time.monotonic()
    async with trio.open_nursery() as n:
        n.start_soon(closer)
        try:
            with trio.fail_after(3):
                await rx2.recv_async()
        except mpsc.ClosedHandleError:
            print("closed noticed after", round(time.monotonic()-t-0.2, 3))
    return sorted(got) == list(range(K))
sys.exit(0 if trio.run(main) else 1)
