"""A rendezvous send with a timeout of 0 (or a deadline already past, or a tiny timeout) never
succeeds on mpsc.process.sync_channel(0), even with a receiver blocked in recv() waiting for
it; on mpsc.sync_channel(0) it hands the value over, and mpsc.process's own try_send succeeds.
Each failed attempt also wakes the parked receiver for a withdrawn offer. Exits 1 while a
zero-timeout send to a waiting receiver fails on the process channel.
"""
import sys, time, threading
import mpsc, mpsc.process as mpp

def run(mk, how, n=30):
    tx, rx = mk()
    got = []
    def rcv():
        try:
            while True:
                got.append(rx.recv_timeout(2))
        except (mpsc.Timeout, mpsc.RecvError):
            pass
    th = threading.Thread(target=rcv); th.start()
    sent = 0
    for i in range(n):
        time.sleep(0.01)  # the receiver is parked in recv_timeout by now
        try:
            how(tx, i); sent += 1
        except (mpsc.Timeout, mpsc.Full):
            pass
    tx.close(); th.join(5)
    rx.close()
    assert sorted(got) == list(range(n))[:0] + sorted(got) and len(got) == sent, (got, sent)
    return sent

hows = {
    "send_timeout(v, 0)": lambda tx, v: tx.send_timeout(v, 0),
    "send_deadline(v, now - 1)": lambda tx, v: tx.send_deadline(v, time.monotonic() - 1),
    "send_timeout(v, 0.0005)": lambda tx, v: tx.send_timeout(v, 0.0005),
    "try_send(v)": lambda tx, v: tx.try_send(v),
}
bad = False
for name, how in hows.items():
    t = run(lambda: mpsc.sync_channel(0), how)
    p = run(lambda: mpp.sync_channel(0), how)
    print(f"{name:28s} to a parked receiver, of 30: thread channel sent {t}, process channel sent {p}")
    if name.startswith("send_timeout(v, 0)") or name.startswith("send_deadline"):
        bad |= p < t
sys.exit(1 if bad else 0)
