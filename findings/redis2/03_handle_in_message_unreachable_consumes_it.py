"""A message carrying an mpsc.redis handle of a channel on another server (the documented way to
pass handles: "taken over when it is unpickled (in another process or machine, or inside a
message of another channel)"). If that other server cannot be reached when the message is
received, the receive raises mpsc.redis.ConnectionError -- whose documented meaning is "nothing
was taken" -- but the message is consumed: it is gone for good, for every receiver.

Also: the unpickling (LEASE adopt, a blocking round trip with RETRY_FOR retries) runs inside
the receive's hand-out, outside the call's deadline: recv_timeout(0.2) takes > 3 s.

Part B: the same with server B up but protected by a password, and a receiving process that
has not called ``mpsc.redis.credentials()`` (the documented way: "the receiving process supplies
them with credentials()"): its receive raises ConnectionError ("... call
mpsc.redis.credentials(url) in this process first") -- and the message is already gone, so
following the advice cannot recover it.

Cause: ``Receiver._recv_steps`` unpickles under ``except Exception`` that consumes the entry
("a value's unpickling error consumes the entry"), and ``_handles._rebuild`` makes a network
call there whose ConnectionError is such an "unpickling error".
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

a = server()
b = server()
tx, rx = mpsc.redis.channel(a.url)  # the carrier channel, on server A
ty, ry = mpsc.redis.channel(b.url)  # a channel on server B, whose Sender travels on A
tx.send(("job", ty))
tx.send("second")
b.kill()  # server B goes away (or is unreachable from this receiver)

problems = []
t0 = time.monotonic()
try:
    v = rx.recv_timeout(0.2)
    print("recv returned", v)
except mpsc.redis.ConnectionError as e:
    print(f"recv_timeout(0.2) raised ConnectionError after {time.monotonic() - t0:.1f} s: {e}")
except mpsc.Timeout:
    print(f"recv_timeout(0.2) raised Timeout after {time.monotonic() - t0:.1f} s")
took = time.monotonic() - t0
if took > 0.2 + 0.5 + 0.5:
    problems.append(f"recv_timeout(0.2) took {took:.1f} s")

# Server B is back (same port). The message with the handle should still be there.
b.start()
rest = []
while True:
    try:
        rest.append(rx.recv_timeout(1.0))
    except (mpsc.Timeout, mpsc.redis.ConnectionError) as e:
        print("then:", type(e).__name__)
        break
print("received afterwards:", [r if isinstance(r, str) else (r[0], type(r[1]).__name__) for r in rest])
if not any(isinstance(r, tuple) and r[0] == "job" for r in rest):
    problems.append("the message carrying the handle is gone although the receive raised ConnectionError")
tx.close()
rx.close()
for r in rest:
    if isinstance(r, tuple):
        try:
            r[1].close()
        except Exception:
            pass
# Part B: a password-protected server B, a receiving process without credentials().
CHILD = r"""
import base64, pickle, sys
import mpsc, mpsc.redis
r = pickle.loads(base64.b64decode(sys.argv[1]))
try:
    v = r.recv_timeout(1.0)
    print("child got", v)
except Exception as e:
    print("child:", type(e).__name__, str(e)[-90:])
r.close()
"""
c = server(password="secret")
tx, rx = mpsc.redis.channel(a.url)
tz, rz = mpsc.redis.channel(c.url)  # on the password-protected server
tx.send(("job", tz))
blob = base64.b64encode(pickle.dumps(rx)).decode()
child = subprocess.run([sys.executable, "-c", CHILD, blob], capture_output=True, timeout=30)
print("part B:", child.stdout.decode().strip())
left = []
while True:
    try:
        left.append(rx.recv_timeout(1.0))
    except mpsc.Timeout:
        break
print("part B: what is left in the channel afterwards:", [(x[0], type(x[1]).__name__) for x in left])
if b"ConnectionError" in child.stdout and not left:
    problems.append("part B: a receiver without credentials() got ConnectionError and the message with the handle is gone")
for x in left:
    x[1].close()
for h in (tx, rx, tz, rz):
    h.close()

if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
