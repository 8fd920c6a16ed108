"""A receive that returned in this process makes room for a send / len() here at once."""
import os, sys, time, threading
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _srv import server
import mpsc, mpsc.redis
srv = server(persist=False)
P = srv.port
bad = 0
for url_tx, url_rx in [(f"redis://127.0.0.1:{P}/0",)*2, (f"redis://127.0.0.1:{P}/0", f"redis://localhost:{P}/0"), (f"redis://127.0.0.1:{P}/0", f"redis://127.0.0.1:{P}"), (f"redis://127.0.0.1:{P}/0", f"redis://127.0.0.1:{P}/0?")]:
    for cap in (1, 3):
        name = f"room{cap}{abs(hash(url_rx))}"
        try:
            tx, r0 = mpsc.redis.bounded(url_tx, cap, name=name)
            t0, rx = mpsc.redis.bounded(url_rx, cap, name=name)
        except Exception as e:
            print("open", url_rx, repr(e)); continue
        for i in range(cap): tx.send(i)
        fails = {"try_send": 0, "len": 0, "is_full": 0, "send_timeout0": 0}
        for k in range(20):
            rx.recv()
            if len(tx) != cap - 1: fails["len"] += 1
            if rx.is_full(): fails["is_full"] += 1
            try: tx.try_send(k)
            except mpsc.Full: fails["try_send"] += 1; tx.send(k)
            rx.recv()
            try: tx.send_timeout(k, 0)
            except mpsc.Timeout: fails["send_timeout0"] += 1; tx.send(k)
        print(url_tx, url_rx, cap, fails)
        bad += sum(fails.values())
        for h in (tx, r0, t0, rx): h.close()
sys.exit(1 if bad else 0)
