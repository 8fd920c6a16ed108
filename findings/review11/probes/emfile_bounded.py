"""Probe: a receive at EMFILE of a large (memfd) message on a bounded channel: outcome and capacity."""
import os, resource, mpsc, mpsc.process as mp
tx, rx = mp.sync_channel(2)
tx.send(b"x" * 100000); tx.send("next")
hold = []
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
try:
    while True: hold.append(os.open("/dev/null", os.O_RDONLY))
except OSError: pass
res = []
for _ in range(2):
    try: v = rx.try_recv(); res.append(v[:5] if isinstance(v, bytes) else v)
    except Exception as e: res.append(f"{type(e).__name__}: {str(e)[:60]}")
for fd in hold: os.close(fd)
k = 0
while k < 4:
    try: tx.try_send(k); k += 1
    except mpsc.Full: break
print(res, "len", len(rx) - k, "capacity_seen", k)
