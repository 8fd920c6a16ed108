"""Finding 05: deadlines in the past. ``send_deadline(v, -inf)`` raises a raw OverflowError;
``recv_deadline``/``send_deadline`` with an instant more than GRACE (0.5 s) in the past raise
Timeout although a message (room) is there -- where ``recv_timeout(0)``/``send_timeout(v, 0)``
and the thread channels' ``*_deadline`` succeed.

Promise: mpsc.redis docstring: "The handles have the thread channels' methods and errors";
"A receive that timed out took nothing: the fetch (a script) is waited for until GRACE past
the deadline, and what it fetched is handed out, so ``recv_timeout(0)`` returns a message that
is there"; ``send_timeout(v, 0)`` "therefore succeeds when there is room". ``send_deadline``'s
Raises list names Timeout, SendError, ... -- not OverflowError. The thread flavour
(``mpsc.bounded``) returns the message / sends for the same calls.

What happens (bounded(2), one message in it):
* ``tx.send_deadline(v, float('-inf'))`` -> OverflowError: cannot convert float infinity to
  integer (``_link.server_ms`` of the attempt's give-up; every capacity, also rendezvous);
  ``recv_deadline(float('-inf'))`` -> Timeout with a message there.
* ``rx.recv_deadline(time.monotonic() - 1)`` -> Timeout with a message there;
  ``tx.send_deadline(v, time.monotonic() - 1)`` -> Timeout with room. A loop over a shared
  deadline (``d = monotonic() + 5; for ...: rx.recv_deadline(d)``) that runs late sees Timeout
  for messages that are there. Deterministic. Low severity.

Exits 1 while the defect shows.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server

import mpsc
import mpsc.redis

srv = server(persist=False)
bad = []
for flavour, make in (("thread", lambda: mpsc.bounded(2)), ("redis", lambda: mpsc.redis.bounded(srv.url, 2))):
    for d in (float("-inf"), "past"):
        tx, rx = make()
        tx.send("there")
        when = (lambda: time.monotonic() - 1) if d == "past" else (lambda: d)
        try:
            tx.send_deadline("more", when())
            s = "sent"
        except BaseException as exc:
            s = f"{type(exc).__name__}: {exc}"
        try:
            r = f"returned {rx.recv_deadline(when())!r}"
        except BaseException as exc:
            r = f"{type(exc).__name__}: {exc}"
        label = "monotonic() - 1" if d == "past" else repr(d)
        print(
            f"{flavour:6} send_deadline(v, {label}): {s};  recv_deadline({label}) with a message there: {r}"
        )
        if flavour == "redis" and (s != "sent" or not r.startswith("returned")):
            bad.append((label, s, r))
        tx.close()
        rx.close()
sys.exit(1 if bad else 0)
