import sys, time, trio, asyncio, mpsc, mpsc.process as mpp
def check(tx, label):
    t = time.monotonic()
    try:
        tx.try_send("x"); r = "SENT (to nobody?)"
    except mpsc.Full: r = "Full"
    print(f"{label}: try_send with no receiver -> {r} in {time.monotonic()-t:.3f}s")
    return r == "Full" and time.monotonic() - t < 0.02
async def trio_churn(tx, rx):
    for i in range(300):
        with trio.move_on_after(0.0005 * (i % 5)):
            await rx.recv_async()
async def aio_churn(tx, rx):
    for i in range(300):
        try:
            async with asyncio.timeout(0.0005 * (i % 5)):
                await rx.recv_async()
        except TimeoutError: pass
ok = True
tx, rx = mpp.sync_channel(0)
trio.run(trio_churn, tx, rx); time.sleep(0.2)
ok &= check(tx, "after 300 cancelled trio recv_async")
asyncio.run(aio_churn(tx, rx))
ok &= check(tx, "after 300 cancelled asyncio recv_async")
# select churn
for i in range(300):
    try: mpsc.select(rx, timeout=0.0002 * (i % 5))
    except mpsc.Timeout: pass
ok &= check(tx, "after 300 timed-out selects")
for i in range(300):
    try: rx.recv_timeout(0.0002 * (i % 5))
    except mpsc.Timeout: pass
ok &= check(tx, "after 300 timed-out recv_timeout")
sys.exit(0 if ok else 1)
