"""Under trio, recv_async/send_async of a process channel that can complete at once never
yield and never check for cancellation: trio's rule (every async operation of a library is a
checkpoint), which mpsc's thread channels keep (_ops.trio_yield), is broken. A task draining
a busy channel starves every other task, and its own deadline (move_on_after, fail_after, a
nursery's cancel) is not delivered until the channel runs dry.

Here 2 000 messages wait in a channel; a task drains them inside a cancel scope that is
already cancelled. A trio checkpoint would raise Cancelled at the first await (as the thread
channel does); the process channel returns every message, and a heartbeat task never runs.
Exits 1 while that shows.
"""
import sys, time
import trio
import mpsc, mpsc.process as mpp

M = 2000

async def scene(kind):
    tx, rx = (mpsc.channel() if kind == "thread" else mpp.channel())
    for i in range(M):
        tx.send(i)
    beats = 0
    async def heartbeat():
        nonlocal beats
        while True:
            beats += 1
            await trio.sleep(0)
    received = 0
    sent = 0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(heartbeat)
        await trio.sleep(0.01)
        start_beats = beats
        with trio.CancelScope() as cs:
            cs.cancel()  # every checkpoint inside must raise Cancelled now
            for _ in range(M):
                await rx.recv_async()
                received += 1
        recv_beats = beats - start_beats
        start_beats = beats
        with trio.CancelScope() as cs2:
            cs2.cancel()
            for i in range(M):
                await tx.send_async(i)
                sent += 1
        send_beats = beats - start_beats
        nursery.cancel_scope.cancel()
    tx.close(); rx.close()
    print(f"{kind:7s} channel: in a cancelled scope, recv_async returned {received} of {M} "
          f"(other task ran {recv_beats} times meanwhile); send_async returned {sent} of {M} "
          f"(other task ran {send_beats} times)")
    return received, sent

trio.run(scene, "thread")
received, sent = trio.run(scene, "process")
sys.exit(1 if received or sent else 0)
