import os, sys, time, signal, multiprocessing as mp
import trio, mpsc, mpsc.process as mpp

N = 3000
def child(tx, cap):
    for i in range(N):
        tx.send_timeout(i, 20)
    tx.close()

async def main(cap):
    tx, rx = mpp.sync_channel(cap) if cap is not None else mpp.channel()
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=child, args=(tx, cap)); p.start(); tx.close()
    got = []; cancels = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 25:
        with trio.move_on_after(0.0002) as cs:
            try:
                v = await rx.recv_async()
            except mpsc.RecvError:
                break
            got.append(v)
        if cs.cancelled_caught: cancels += 1
    p.join(5); 
    if p.is_alive(): p.kill(); p.join()
    missing = set(range(N)) - set(got)
    dup = len(got) - len(set(got))
    print("cap", cap, "got", len(got), "missing", len(missing), "dup", dup, "cancels", cancels, "order ok", got == sorted(got))
    return not missing and not dup

if __name__ == '__main__':
    ok = True
    for cap in (None, 4, 0):
        ok &= trio.run(main, cap)
    sys.exit(0 if ok else 1)
