"""Sending a handle that is not delivered still leaves its travel lease (TRAVEL = 30 s).

Pickling a handle gives the pickle a lease of its own ("so a side does not disconnect while its
handle is in flight"). When the send that pickled it does not happen -- Full from try_send,
Timeout, SendError: "the value was not sent and is .value" -- nothing is in flight, but the
travel lease stays: closing the (only) Receiver afterwards does not disconnect its channel for
30 s. Promise: "A clean close() ends it at once and wakes the other side's blocked calls ...
releasing the last Receiver ... makes sends fail with SendError; either is seen by the other
side within a round trip". Here sends keep succeeding into a channel nobody can read.

Cause: ``_handles._Handle.__reduce__`` takes the travel lease during ``_dumps`` at the call;
``Sender._send``/``_send_steps`` never gives it back when the send raises.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
ty, ry = mpsc.redis.channel(srv.url)  # the channel whose Receiver we try to hand over
tx, rx = mpsc.redis.bounded(srv.url, 1)  # the carrier, full
tx.send("filler")
try:
    tx.try_send(ry)
    print("unexpected: try_send succeeded")
except mpsc.Full as e:
    assert e.value is ry
    print("try_send(ry) raised Full: nothing was sent")
ry.close()  # the only Receiver of Y is gone: Y's senders must see it within a round trip

t0 = time.monotonic()
accepted = 0
disconnected_after = None
while time.monotonic() - t0 < 4.0:
    try:
        ty.send_timeout("into the void", 0.2)
        accepted += 1
    except mpsc.SendError:
        disconnected_after = time.monotonic() - t0
        break
    time.sleep(0.1)
print(f"after ry.close(): {accepted} sends accepted; SendError after "
      f"{'never (4 s)' if disconnected_after is None else f'{disconnected_after:.2f} s'}; "
      f"ty.is_disconnected() = {ty.is_disconnected()}")
ty.close()
tx.close()
rx.close()
if disconnected_after is None or disconnected_after > 2.0:
    print("FAIL: a Receiver whose send failed (Full) keeps its channel connected after its close (travel lease)")
    sys.exit(1)
print("OK")
