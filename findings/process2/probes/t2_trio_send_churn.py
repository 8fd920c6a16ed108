import os, sys, time, multiprocessing as mp
import trio, mpsc, mpsc.process as mpp

N = 2000
def child(rx, out):
    got = []
    while True:
        try: got.append(rx.recv_timeout(20))
        except mpsc.RecvError: break
        except mpsc.Timeout: break
    out.send(got); out.close()

async def main(cap):
    tx, rx = mpp.sync_channel(cap) if cap is not None else mpp.channel()
    otx, orx = mpp.channel()
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=child, args=(rx, otx)); p.start(); rx.close(); otx.close()
    sent = []; cancels = 0; i = 0
    t0 = time.monotonic()
    while i < N and time.monotonic() - t0 < 15:
        with trio.move_on_after(0.0003) as cs:
            await tx.send_async(i)
            sent.append(i); i += 1
        if cs.cancelled_caught: cancels += 1
    tx.close()
    with trio.fail_after(20):
        got = await orx.recv_async()
    p.join(5)
    if p.is_alive(): p.kill(); p.join()
    print("cap", cap, "sent", len(sent), "got", len(got), "extra", len(set(got)-set(sent)), "missing", len(set(sent)-set(got)), "dups", len(got)-len(set(got)), "cancels", cancels)
    return got == sent

if __name__ == '__main__':
    ok = True
    for cap in (None, 2, 0):
        ok &= trio.run(main, cap)
    sys.exit(0 if ok else 1)
