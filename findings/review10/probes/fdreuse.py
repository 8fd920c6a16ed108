"""Threads send/recv on clones while another closes every handle (fds closed) and an opener
makes socketpairs that reuse the numbers: nothing foreign must appear in / vanish from them."""
import os, socket, sys, threading, time, random
import mpsc, mpsc.process as m

DUR = float(os.environ.get("DUR", "40"))
stop = False
stats = {"sent": 0, "recv": 0, "closed_err": 0, "rounds": 0, "pairs": 0}
intr = []
lock = threading.Lock()
current = {"tx": [], "rx": []}


def sender(k):
    i = 0
    while not stop:
        hs = current["tx"]
        if len(hs) <= k:
            time.sleep(0.0001); continue
        h = hs[k]
        v = (k, i, bytes(70_000) if i % 3 == 0 else b"s")
        try:
            h.send(v)
            stats["sent"] += 1
        except (mpsc.ClosedHandleError, mpsc.SendError):
            stats["closed_err"] += 1
        i += 1


def receiver(k):
    while not stop:
        hs = current["rx"]
        if len(hs) <= k:
            time.sleep(0.0001); continue
        h = hs[k]
        try:
            h.try_recv()
            stats["recv"] += 1
        except (mpsc.Empty, mpsc.RecvError):
            pass
        except mpsc.ClosedHandleError:
            stats["closed_err"] += 1


def opener():
    pairs = []
    while not stop:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.setblocking(False); b.setblocking(False)
        a.send(b"marker")
        pairs.append((a, b))
        stats["pairs"] += 1
        if len(pairs) > 40:
            a, b = pairs.pop(0)
            for s, name in ((b, "b"), (a, "a")):
                try:
                    while True:
                        d = s.recv(100000)
                        if not (name == "b" and d == b"marker"):
                            intr.append((name, d[:20]))
                        if name == "b" and d == b"marker":
                            name = "b-after"
                except BlockingIOError:
                    if name == "b":
                        intr.append(("marker stolen",))
            a.close(); b.close()
        time.sleep(0)


def closer():
    while not stop:
        tx, rx = m.channel()
        current["tx"] = [tx.clone() for _ in range(3)]
        current["rx"] = [rx.clone() for _ in range(2)]
        tx.close(); rx.close()
        time.sleep(random.uniform(0.001, 0.02))
        for h in current["tx"] + current["rx"]:
            h.close()
        stats["rounds"] += 1


sys.setswitchinterval(1e-5)
ts = [threading.Thread(target=sender, args=(k,)) for k in range(3)] + \
     [threading.Thread(target=receiver, args=(k,)) for k in range(2)] + \
     [threading.Thread(target=opener), threading.Thread(target=closer)]
for t in ts: t.start()
time.sleep(DUR)
stop = True
for t in ts: t.join(30)
print(stats, "foreign data / stolen markers:", len(intr), intr[:5], "fds now:", len(os.listdir("/proc/self/fd")))
sys.exit(1 if intr else 0)
