"""Under trio, every waiting send_async/recv_async of a process channel holds one of trio's
default thread-limiter tokens (40) while it polls in a worker thread. With more idle waiters
than that (a server with a task per connection/channel), (a) a message sent on a channel whose
waiting task is queued for a token is noticed only when its turn comes (~N/40 x 0.1 s), and
(b) every unrelated trio.to_thread.run_sync in the program (trio.Path, trio.open_file,
getaddrinfo) waits behind them. Exits 1 while a wake-up or a to_thread call takes > 0.25 s.
"""
import sys, time
import trio
import mpsc, mpsc.process as mpp

IDLE = 400  # tasks waiting on idle channels (no message ever comes)

async def main():
    idle = [mpp.channel() for _ in range(IDLE)]
    tx, rx = mpp.channel()
    got = []
    result = {}
    async with trio.open_nursery() as nursery:
        for _, irx in idle:
            nursery.start_soon(irx.recv_async)
        async def target():
            got.append(await rx.recv_async())
            result["woke"] = time.monotonic() - result["sent"]
        nursery.start_soon(target)
        await trio.sleep(0.5)
        t = time.monotonic()
        await trio.to_thread.run_sync(lambda: None)
        result["to_thread"] = time.monotonic() - t
        result["sent"] = time.monotonic()
        tx.send("hello")
        with trio.move_on_after(15):
            while not got:
                await trio.sleep(0.001)
        nursery.cancel_scope.cancel()
    for itx, irx in idle:
        itx.close(); irx.close()
    tx.close(); rx.close()
    return got, result

got, result = trio.run(main)
woke = result.get("woke")
print(f"{IDLE} trio tasks awaiting recv_async on idle process channels:")
print(f"  an unrelated trio.to_thread.run_sync(lambda: None) took {result['to_thread']:.3f} s")
print(f"  a message sent to another waiting task was received after "
      + (f"{woke:.3f} s" if woke is not None else "never (15 s)") + f" (got {got})")
bad = got != ["hello"] or woke is None or woke > 0.25 or result["to_thread"] > 0.25
sys.exit(1 if bad else 0)
