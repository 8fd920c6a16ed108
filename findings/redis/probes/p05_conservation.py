"""Probe: producer and consumer processes (spawn, handles pickled as arguments), every capacity;
exactly once, per-sender FIFO per receiver, and the bound sampled on the server (XLEN)."""
import collections, multiprocessing as mp, os, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

def produce(tx, p, n):
    with tx:
        i = 0
        while i < n:
            k = min(37, n - i)
            if i % 2: tx.send_many([(p, j) for j in range(i, i + k)]); i += k
            else: tx.send((p, i)); i += 1

def consume(rx, q):
    out = []
    with rx:
        for v in rx: out.append(v)
    q.put(out)

if __name__ == "__main__":
    from _srv import server
    import mpsc.redis as mr
    srv = server()
    ctx = mp.get_context("spawn")
    for cap in (None, 1, 3, 50):
        tx, rx = mr.channel(srv.url) if cap is None else mr.bounded(srv.url, cap)
        P, C, N = 3, 2, 1500
        q = ctx.Queue()
        ps = [ctx.Process(target=produce, args=(tx, p, N)) for p in range(P)]
        cs = [ctx.Process(target=consume, args=(rx, q)) for _ in range(C)]
        for x in ps + cs: x.start()
        tx.close(); rx.close()
        maxlen = 0; stop = False
        def sample():
            global maxlen
            while not stop:
                try: maxlen = max(maxlen, srv.command("XLEN", tx.name))
                except Exception: pass
                time.sleep(0.002)
        th = threading.Thread(target=sample); th.start()
        outs = [q.get(timeout=50) for _ in range(C)]
        stop = True; th.join()
        for x in ps + cs: x.join(10)
        allv = [v for o in outs for v in o]
        c = collections.Counter(allv)
        fifo = all([i for (pp, i) in o if pp == p] == sorted(i for (pp, i) in o if pp == p) for o in outs for p in range(P))
        print(f"cap={cap}: received {len(allv)} of {P*N}, distinct {len(c)}, dups {sum(v-1 for v in c.values())}, fifo per receiver {fifo}, max XLEN seen {maxlen}, exit codes {[x.exitcode for x in ps+cs]}", flush=True)
