"""Threads receive through shared Receiver clones while another thread closes clones at random
and clones new ones; senders likewise. Exactly once, RecvError at the end, nothing hangs."""
import os, sys, time, random, threading, collections
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
ok = True
for cap in (None, 2, 0):
    tx, rx = mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap)
    pool = [rx.clone() for _ in range(3)]
    lock = threading.Lock()
    got = collections.Counter(); sent = []; errs = []
    stop = threading.Event()
    def receiver():
        while not stop.is_set():
            with lock:
                h = random.choice(pool)
            try:
                v = random.choice([h.recv_timeout, lambda t: h.try_recv()])(0.05)
                got[v] += 1
            except (mpsc.Timeout, mpsc.Empty, mpsc.ClosedHandleError):
                pass
            except mpsc.RecvError:
                return
            except Exception as e:
                errs.append(repr(e)); return
    def sender(k):
        t = tx.clone()
        for i in range(600):
            v = (k, i)
            try:
                random.choice([lambda: t.send(v), lambda: t.send_timeout(v, 0.01)])()
                sent.append(v)
            except mpsc.Timeout:
                pass
            except Exception as e:
                errs.append(repr(e)); break
        t.close()
    def churn():
        while not stop.is_set():
            time.sleep(random.uniform(0, 0.01))
            with lock:
                i = random.randrange(len(pool))
                old = pool[i]
                try:
                    pool[i] = old.clone()
                except Exception as e:
                    errs.append("clone " + repr(e))
            old.close()
    rs = [threading.Thread(target=receiver) for _ in range(4)]
    ss = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
    ch = threading.Thread(target=churn)
    for t in rs + ss + [ch]: t.start()
    tx.close()
    for t in ss: t.join(120)
    stop.set(); ch.join(10)
    for t in rs: t.join(10)
    # drain with a fresh receiver
    left = []
    try:
        while True:
            left.append(pool[0].recv_timeout(5))
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        errs.append("drain Timeout (no RecvError)")
    for v in left: got[v] += 1
    lost = [v for v in sent if got[v] == 0]; dup = [v for v in got if got[v] > 1]
    ghosts = [v for v in got if v not in set(sent)]
    hung = [t for t in rs + ss if t.is_alive()]
    res = not lost and not dup and not errs and not hung
    print(f"cap={cap}: sent {len(sent)} got {sum(got.values())} lost {len(lost)} dup {dup[:5]} ghosts(timeout sends delivered) {ghosts[:5]} errs {errs[:3]} hung {len(hung)} -> {'ok' if res else 'BAD'}")
    ok &= res and not ghosts
    for h in pool: h.close()
    rx.close()
sys.exit(0 if ok else 1)
