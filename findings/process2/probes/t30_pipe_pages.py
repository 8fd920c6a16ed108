import os, sys, mpsc, mpsc.process as mpp
print("uid", os.getuid())
made = []
err = None
for i in range(80):
    try:
        made.append(mpp.sync_channel(mpp.MAX_CAPACITY))
    except Exception as e:
        err = e; break
print("big channels made:", len(made), "then", repr(err)[:150])
for cap in (100, 5000, 70000):
    try:
        tx, rx = mpp.sync_channel(cap)
    except Exception as e:
        print(cap, "constructor raised", repr(e)[:150]); continue
    n = 0
    try:
        for i in range(cap + 1):
            tx.try_send(i); n += 1
    except mpsc.Full:
        pass
    except Exception as e:
        print(cap, "try_send raised", repr(e)[:100])
    print(f"sync_channel({cap}): len {len(rx)}, try_send succeeded {n} times (want {cap})")
    tx.close(); rx.close()
