"""Probe: at maxmemory (noeviction): sends refused with ServerError, nothing enqueued by a refused
send; receivers drain; clone/pickle/len/close work; rendezvous and send_many too."""
import os, sys, time, pickle
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
srv = server()
srv.command("CONFIG", "SET", "maxmemory", "30mb")
srv.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
bad = []
for cap in (None, 1000):
    tx, rx = mr.channel(srv.url) if cap is None else mr.bounded(srv.url, cap)
    ok = 0; refused = 0
    for i in range(2000):
        try:
            tx.send((i, b"x" * 100_000)); ok += 1
        except mr.ServerError:
            refused += 1
            if refused > 3: break
    try:
        tx.send_many([(ok + 10**6 + j, b"y" * 100_000) for j in range(5)]); print("send_many accepted at OOM")
    except mr.ServerError: pass
    extra = []
    for what, f in (("len", lambda: len(rx)), ("clone", lambda: rx.clone().close()), ("pickle", lambda: pickle.loads(pickle.dumps(tx)).close())):
        try: f()
        except Exception as e: extra.append(f"{what}: {type(e).__name__}")
    got = []
    tx.close()
    while True:
        try: got.append(rx.recv_timeout(3)[0])
        except (mpsc.RecvError, mpsc.Timeout) as e: end = type(e).__name__; break
    rx.close()
    print(f"cap {cap}: sent {ok}, refused {refused}, received {len(got)} then {end}; {extra}")
    if got != list(range(ok)) or end != "RecvError": bad.append(cap)
tx, rx = mr.bounded(srv.url, 0)
filler_tx, filler_rx = mr.channel(srv.url)
try:
    while True: filler_tx.send(b"z" * 100_000)
except mr.ServerError: pass
import threading
res = []
th = threading.Thread(target=lambda: res.append(rx.recv_timeout(3)))
th.start(); time.sleep(0.3)
try: tx.send_timeout("rv", 1); print("rendezvous send at OOM returned")
except Exception as e: print("rendezvous send at OOM:", type(e).__name__)
th.join(5)
print("rendezvous recv got", res)
for h in (tx, rx, filler_tx, filler_rx): h.close()
sys.exit(1 if bad else 0)
