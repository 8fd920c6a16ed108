"""A child forked (multiprocessing's fork start method, or os.fork) from inside a trio task
cannot make any blocking mpsc call: the child still looks like it runs trio
(trio.lowlevel.in_trio_run() is inherited through fork), so recv/recv_timeout/send that must
wait raise "RuntimeError: a blocking mpsc call would freeze the running event loop", though no
loop runs in the child. The same program under asyncio works (asyncio's running loop is
per-pid). The module doc says forked children inherit live handles and may use them.
Exits 1 while the child's blocking recv raises RuntimeError.
"""
import sys, multiprocessing as mp
import trio, asyncio
import mpsc, mpsc.process as mpp

def child(rx, out):
    try:
        out.send(("ok", rx.recv_timeout(5)))
    except BaseException as e:
        out.send(("raised", f"{type(e).__name__}: {e}"))

def start_and_collect(ctx):
    tx, rx = mpp.channel()
    otx, orx = mpp.channel()
    p = ctx.Process(target=child, args=(rx, otx))
    p.start()
    return p, tx, orx

async def in_trio():
    p, tx, orx = start_and_collect(mp.get_context("fork"))
    await trio.sleep(0.3)  # the child is parked in recv_timeout by now (or has failed)
    try:
        tx.try_send("hello")
    except mpsc.SendError:
        pass  # the child is gone already
    with trio.fail_after(10):
        r = await orx.recv_async()
    await trio.to_thread.run_sync(p.join, 10)
    return r, p

async def in_asyncio():
    p, tx, orx = start_and_collect(mp.get_context("fork"))
    await asyncio.sleep(0.3)
    try:
        tx.try_send("hello")
    except mpsc.SendError:
        pass
    r = await asyncio.wait_for(orx.recv_async(), 10)
    await asyncio.to_thread(p.join, 10)
    return r, p

if __name__ == "__main__":
    bad = False
    for name, run in (("asyncio", lambda: asyncio.run(in_asyncio())), ("trio", lambda: trio.run(in_trio))):
        r, p = run()
        if p.is_alive():
            p.kill(); p.join()
        print(f"fork child of a {name} program: blocking recv_timeout -> {r}")
        bad |= r[0] != "ok"
    sys.exit(1 if bad else 0)
