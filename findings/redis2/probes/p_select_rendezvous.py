"""Probe: selects sending on a Redis rendezvous channel (with a timer and a thread channel) while
receivers wait in recv_timeout; selects receiving from it while senders wait in send_timeout."""
import os, sys, time, threading, random
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis as mr
from collections import Counter
srv = server()
tx, rx = mr.bounded(srv.url, 0)
DUR = 10
stop = time.monotonic() + DUR
lock = threading.Lock()
sel_sent, got, snd_ok, snd_fail, sel_got = [], [], [], [], []
def sel_sender(k):
    t = tx.clone(); j = 0
    while time.monotonic() < stop:
        try:
            i, _ = mpsc.select((t, ("s", k, j)), mpsc.after(random.choice([0.001, 0.02, 0.2])), timeout=0.5)
            if i == 0:
                with lock: sel_sent.append(("s", k, j))
                j += 1
        except mpsc.Timeout:
            pass
    t.close()
def receiver():
    r = rx.clone()
    while time.monotonic() < stop + 2:
        try:
            v = r.recv_timeout(random.choice([0.01, 0.1, 0.3]))
            with lock: got.append(v)
        except mpsc.Timeout: pass
        except mpsc.RecvError: break
    r.close()
def sender(k):
    t = tx.clone(); j = 0
    while time.monotonic() < stop:
        v = ("p", k, j); j += 1
        try:
            t.send_timeout(v, random.choice([0.01, 0.1, 0.3])); snd_ok.append(v)
        except mpsc.Timeout: snd_fail.append(v)
    t.close()
def sel_receiver():
    r = rx.clone()
    while time.monotonic() < stop + 2:
        try:
            i, v = mpsc.select(r, mpsc.after(random.choice([0.001, 0.05])), timeout=0.5)
            if i == 0:
                with lock: sel_got.append(v)
        except mpsc.Timeout: pass
        except mpsc.RecvError: break
    r.close()
ths = [threading.Thread(target=sel_sender, args=(k,)) for k in range(2)] + [threading.Thread(target=receiver) for _ in range(2)]
ths += [threading.Thread(target=sender, args=(k,)) for k in range(2)] + [threading.Thread(target=sel_receiver)]
for t in ths: t.start()
tx.close()
for t in ths: t.join(30)
rx.close()
allgot = Counter(got + sel_got)
ok = set(sel_sent) | set(snd_ok)
dups = [v for v, n in allgot.items() if n > 1]; lost = ok - set(allgot); ghost = set(allgot) - ok
print(f"select-sent {len(sel_sent)}, sent {len(snd_ok)} (failed {len(snd_fail)}), received {len(got)} + by select {len(sel_got)}; "
      f"dups {len(dups)} lost {len(lost)} {sorted(lost)[:4]} ghosts {len(ghost)} {sorted(ghost)[:4]}; hung {[t for t in ths if t.is_alive()]}")
sys.exit(1 if dups or lost or ghost else 0)
