"""A message carrying an mpsc.redis handle of a channel on another server (the documented way to
pass handles: "taken over when it is unpickled (in another process or machine, or inside a
message of another channel)"). If that other server cannot be reached when the message is
received, the receive raises mpsc.redis.ConnectionError -- whose documented meaning is "nothing
was taken" -- but the message is consumed: it is gone for good, for every receiver.

Also: the unpickling (LEASE adopt, a blocking round trip with RETRY_FOR retries) runs inside
the receive's hand-out, outside the call's deadline: recv_timeout(0.2) takes > 3 s.

Cause: ``Receiver._recv_steps`` unpickles under ``except Exception`` that consumes the entry
("a value's unpickling error consumes the entry"), and ``_handles._rebuild`` makes a network
call there whose ConnectionError is such an "unpickling error".
"""

from __future__ import annotations

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
if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
