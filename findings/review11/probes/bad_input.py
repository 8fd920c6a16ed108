import threading, socket, mpsc, mpsc.process as mp
class AttrR:
    def __reduce__(self): raise AttributeError("nope")
class Local: pass
def deep(n):
    v = []
    for _ in range(n): v = [v]
    return v
vals = {"lambda": lambda: 1, "gen": (i for i in range(2)), "lock": threading.Lock(), "attr": AttrR(),
        "deep": deep(100000), "sock": socket.socket(), "mv": memoryview(b"ab"), "tx_closed": None}
for cap in (None, 1, 2):
    tx, rx = mp.channel() if cap is None else mp.sync_channel(cap)
    for name, v in vals.items():
        if name == "tx_closed":
            t, r = mp.channel(); t.close(); v = t
        for op in ("send", "try_send"):
            try:
                getattr(tx, op)(v); res = "sent"
            except BaseException as e:
                res = f"{type(e).__module__}.{type(e).__name__}: {str(e)[:70]}"
            print(cap, name, op, res)
    tx.send("ok")
    print(cap, "after:", rx.try_recv(), "len", len(rx) if cap else "-")
