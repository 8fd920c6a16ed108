import sys, time, threading, subprocess, pickle, base64, os, signal
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), ".."))
from _srv import server
import mpsc, mpsc.redis
srv = server()
bad = 0
for cap in (None, 3, 0):
  for trial in range(3):
    tx, rx = (mpsc.redis.channel(srv.url) if cap is None else mpsc.redis.bounded(srv.url, cap))
    rx2 = rx.clone()
    blob = base64.b64encode(pickle.dumps(rx)).decode()
    rx.close()
    child = subprocess.Popen([sys.executable, "-u", "-c", f"""
import pickle,base64,sys
import mpsc
r=pickle.loads(base64.b64decode('{blob}'))
print('ready', flush=True)
while True:
    v=r.recv(); print(v, flush=True)
"""], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    sent = []
    stop = threading.Event()
    def prod():
        i = 0
        while not stop.is_set() and i < 3000:
            try:
                tx.send_timeout(i, 0.5); sent.append(i)
            except mpsc.Timeout:
                pass
            i += 1
    p = threading.Thread(target=prod); p.start()
    time.sleep(0.3 + 0.1 * trial)
    child.kill(); child.wait(5)
    out = child.stdout.read().split()
    child.stdout.close()
    time.sleep(0.2)
    stop.set(); p.join(10)
    tx.close()
    got = []
    while True:
        try: got.append(rx2.recv_timeout(5))
        except (mpsc.RecvError, mpsc.Timeout) as e:
            end = type(e).__name__; break
    rx2.close()
    childgot = [int(x) for x in out if x.isdigit()]
    allgot = set(childgot) | set(got)
    lost = set(sent) - allgot
    ghost = allgot - set(sent)
    dup = len(childgot) + len(got) - len(allgot)
    print(f"cap {cap}: sent {len(sent)} child {len(childgot)} survivor {len(got)} end {end} lost {len(lost)} {sorted(lost)[:5]} dup {dup} ghost {sorted(ghost)[:5]}")
    bad += bool(lost) or end != "RecvError"
sys.exit(1 if bad else 0)
