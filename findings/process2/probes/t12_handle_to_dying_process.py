import os, sys, time, signal, multiprocessing as mp
import mpsc, mpsc.process as mpp
def child(crx):
    time.sleep(30)
if __name__ == "__main__":
    ok = True
    for cap in (None, 3, 0):
        ctx = mp.get_context("spawn")
        ctx_tx, crx = mpp.channel() if cap != 0 else mpp.sync_channel(4)
        p = ctx.Process(target=child, args=(crx,)); p.start(); crx.close()
        tx2, rx2 = (mpp.channel() if cap is None else mpp.sync_channel(cap))
        ctx_tx.send(("h", tx2)); tx2.close()
        time.sleep(0.3)
        p.kill(); p.join()
        t = time.monotonic()
        try:
            rx2.recv_timeout(3); print("got a value?"); ok = False
        except mpsc.RecvError:
            print(cap, "RecvError after", round(time.monotonic()-t, 3))
        except mpsc.Timeout:
            print(cap, "carried Sender keeps channel connected after its carrier's receiver died"); ok = False
        try:
            ctx_tx.send("x"); print("send to dead carrier succeeded"); ok = False
        except mpsc.SendError: pass
        ctx_tx.close(); rx2.close()
    sys.exit(0 if ok else 1)
