import sys, time, threading, multiprocessing as mp
import mpsc, mpsc.process as mpp
N = 10000
def child(tx):
    for i in range(N): tx.send_timeout(("p", i), 30)
    tx.close()
def run(cap):
    ptx, prx = mpp.channel() if cap is None else mpp.sync_channel(cap)
    ttx, trx = mpsc.sync_channel(2)
    p = mp.get_context("spawn").Process(target=child, args=(ptx,)); p.start(); ptx.close()
    def tprod():
        for i in range(N): ttx.send_timeout(("t", i), 30)
        ttx.close()
    tp = threading.Thread(target=tprod); tp.start()
    sel = mpsc.Select(prx, trx)
    got = []; lock = threading.Lock(); errs = []; gone = set()
    def worker():
        while len(gone) < 2:
            try:
                i, v = sel.select(timeout=0.2)
                with lock: got.append(v)
            except mpsc.RecvError as e:
                gone.add(e.index)
                if len(gone) == 2: return
                time.sleep(0.001)
            except mpsc.Timeout:
                pass
            except Exception as e:
                errs.append(repr(e)); return
    ws = [threading.Thread(target=worker) for _ in range(4)]
    t0 = time.monotonic()
    for w in ws: w.start()
    for w in ws: w.join(40)
    tp.join(5); p.join(10)
    if p.is_alive(): p.kill(); p.join()
    pm = sorted(v for k, v in got if k == "p"); tm = sorted(v for k, v in got if k == "t")
    print(f"cap={cap}: process {len(pm)} exact {pm == list(range(N))}, thread {len(tm)} exact {tm == list(range(N))}, errors {errs[:2]}, {time.monotonic()-t0:.1f}s")
    return pm == list(range(N)) and tm == list(range(N)) and not errs
if __name__ == "__main__":
    ok = True
    for cap in (None, 3, 0): ok &= run(cap)
    sys.exit(0 if ok else 1)
