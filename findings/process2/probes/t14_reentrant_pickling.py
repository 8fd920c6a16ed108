import sys, os, pickle, mpsc, mpsc.process as mpp
problems = []
CH = {}
def inner_recv():
    rx = CH["rx"]
    try:
        return ("inner got", rx.try_recv())
    except Exception as e:
        return ("inner raised", type(e).__name__)
class RecvOnUnpickle:
    def __reduce__(self): return (inner_recv, ())
class SendOnPickle:
    def __reduce__(self):
        try:
            CH["tx"].send_timeout("nested", 0.5); r = "nested sent"
        except Exception as e:
            r = "nested raised " + type(e).__name__
        return (str, (r,))
def bad():
    raise ValueError("cannot unpickle")
class BadUnpickle:
    def __reduce__(self): return (bad, ())

for cap in (None, 1, 2):
    tx, rx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    CH.update(tx=tx, rx=rx)
    # unpicklable at recv: credit returned, channel usable
    tx.send(BadUnpickle())
    try: rx.recv_timeout(1); problems.append(f"{cap}: bad value received?")
    except ValueError: pass
    except Exception as e: problems.append(f"{cap}: unpickling error came as {e!r}")
    if cap:
        if len(rx) != 0: problems.append(f"{cap}: len {len(rx)} after failed recv")
    tx.send_timeout("after", 1); 
    if rx.recv_timeout(1) != "after": problems.append("after lost")
    # nested send during pickling
    try:
        tx.send_timeout(SendOnPickle(), 1)
    except Exception as e:
        problems.append(f"{cap}: outer send with nested send raised {e!r}")
    got = []
    while True:
        try: got.append(rx.try_recv())
        except mpsc.Empty: break
    print(cap, "nested send ->", got)
    # nested recv during unpickling
    if cap != 1:
        tx.send(RecvOnUnpickle()); tx.send("second")
        try:
            v = rx.recv_timeout(1); print(cap, "nested recv ->", v)
            rest = []
            while True:
                try: rest.append(rx.try_recv())
                except mpsc.Empty: break
            print("   rest", rest)
            allv = [v[1]] + rest if v[0] == "inner got" else rest
            if allv.count("second") != 1: problems.append(f"{cap}: 'second' seen {allv.count('second')} times")
        except Exception as e:
            problems.append(f"{cap}: nested recv made outer raise {e!r}")
    if tx._ep.busy or rx._ep.busy: problems.append(f"{cap}: endpoint busy")
    tx.close(); rx.close()
print("\n".join(problems) or "ok")
sys.exit(1 if problems else 0)
