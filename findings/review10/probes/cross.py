import os, sys, subprocess, multiprocessing as mp
import mpsc, mpsc.process as m
from mpsc.process import _implementation
def child(tx, rx):
    from mpsc.process import _implementation as I
    tx.send(("child impl", I.in_use()))
    for i in range(200):
        tx.send((i, bytes([i % 251]) * (70_000 if i % 2 else 10), i))
    n = 0
    for v in rx:
        assert v[2] == bytes([v[0] % 251]) * (70_000 if v[0] % 2 else 10)
        n += 1
    tx.send(("child got", n))
if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    tx, rx = m.channel(); tx2, rx2 = m.channel()
    os.environ["MPSC_PURE"] = "1" if _implementation.in_use() == "compiled" else ""
    p = ctx.Process(target=child, args=(tx, rx2)); p.start()
    tx.close(); rx2.close()
    for i in range(200):
        tx2.send((i, None, bytes([i % 251]) * (70_000 if i % 2 else 10)))
    tx2.close()
    got = list(rx)
    print("parent impl", _implementation.in_use(), got[0], got[-1], len(got))
    ok = all(v[1] == bytes([v[0] % 251]) * (70_000 if v[0] % 2 else 10) for v in got[1:-1]) and got[-1] == ("child got", 200)
    p.join()
    sys.exit(0 if ok else 1)
