"""A healthy sender process that runs one long call holding the GIL (here ``sum(range(...))``,
~3 s: any C-level computation that does not release the GIL -- a big sort, a regex, a C
extension) starves its lease thread: its lease expires, the receiver in another process gets
RecvError ("every Sender is gone"), and since a side's end is final the channel is dead for
good: the sender's next send raises LeaseExpiredError. Thread channels have no such failure
mode; the docs describe lease expiry as what happens to a process that is "SIGKILLed or cut
off" / "paused or cut off from the server for a whole lease".

Cause: leases are renewed only by a Python thread of the same process (``_leases._Renewer``),
which cannot run while another thread holds the GIL. Suggested fix: document it (a call that
holds the GIL for a lease disconnects its channels; raise ``lease=`` for such processes), or
renew from a helper process/native thread, or let a handle whose lease lapsed only because of
its own process rejoin when the other side is still there.
Exits 1 if the receiver saw RecvError while the sender was alive.
"""

from __future__ import annotations

import base64
import pickle
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

CHILD = r"""
import base64, os, pickle, sys, time
import mpsc
r = pickle.loads(base64.b64decode(sys.argv[1]))
os.write(1, b"ready\n")
end = time.monotonic() + 20
while time.monotonic() < end:
    try:
        v = r.recv_timeout(1.0)
        os.write(1, b"got %r\n" % (v,))
    except mpsc.Timeout:
        continue
    except mpsc.RecvError:
        os.write(1, b"RecvError\n")
        break
r.close()
"""

srv = server()
tx, rx = mpsc.redis.channel(srv.url)  # default lease 1.5 s
blob = base64.b64encode(pickle.dumps(rx)).decode()
rx.close()
child = subprocess.Popen([sys.executable, "-c", CHILD, blob], stdout=subprocess.PIPE)
try:
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    tx.send("before")
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 3.0:  # a few seconds of work that holds the GIL throughout each call
        sum(range(2 * 10**8))
        n += 1
    print(f"the sender computed for {time.monotonic() - t0:.1f} s ({n} calls holding the GIL)")
    try:
        tx.send("after")
        sender = "send('after') returned"
    except mpsc.redis.LeaseExpiredError:
        sender = "send('after') raised LeaseExpiredError"
    except mpsc.SendError:
        sender = "send('after') raised SendError"
    tx.close()
    out, _ = child.communicate(timeout=30)
finally:
    if child.poll() is None:
        child.kill()
        child.wait(5)
lines = out.decode().split("\n") if out else []
print("sender:", sender, "| receiver process saw:", [x for x in lines if x])
got_before = "got 'before'" in lines
if not got_before or ("RecvError" in lines and "got 'after'" not in lines):
    print("FAIL: the channel was declared disconnected while its only Sender was alive (its process held the GIL)")
    sys.exit(1)
print("OK")
