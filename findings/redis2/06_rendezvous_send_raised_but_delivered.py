"""Rendezvous (bounded(url, 0)): a send_timeout whose offer was posted, on a server paused
during its wait, raises -- after the whole pause or RETRY_FOR, not at its timeout -- and leaves
its offer in the channel: a receiver gets the value later although the send raised.

Promises: "A send that raised (Timeout, a cancellation, SendError, Ctrl-C while it waits) left
nothing behind: its offer is withdrawn atomically with the check that nobody took it, so the
value is never received later"; send_timeout's ConnectionError: "the value was not sent";
"Timeouts fire while it is paused". (The documented residue is a script run before the
deadline whose *reply* is lost; here the post's reply came, 'posted', and the withdrawal is
what never ran.)

Cause: ``Sender._rendezvous_steps`` withdraws with ``RV_CHECK`` (and undoes with ``RV_SEND
undo``) as a step with no deadline: on a paused server it waits for the server (Link.call's
retries, IO_TIMEOUT per attempt) and, after RETRY_FOR, raises ConnectionError out of the send
with the offer still posted; the sender's lease is alive, so nothing withdraws it later.
Part 1: SIGSTOP 2.5 s -> send_timeout(v, 0.3) takes the whole pause (the withdrawal, sent
during the pause, runs at the resume). Part 2: the server is SIGKILLed during the wait and
restarted (append-only file) 4.5 s later -> the send raises ConnectionError after RETRY_FOR
and the value is received afterwards.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server(persist=True)
problems = []

for pause, how in ((2.5, "pause"), (4.5, "restart")):
    tx, rx = mpsc.redis.bounded(srv.url, 0, lease=5)
    outcome: list[object] = []

    def send() -> None:
        t0 = time.monotonic()
        try:
            tx.send_timeout("v", 0.3)
            outcome.append("returned")
        except BaseException as e:  # noqa: BLE001
            outcome.append(type(e).__name__)
        outcome.append(time.monotonic() - t0)

    t = threading.Thread(target=send)
    t.start()
    time.sleep(0.15)  # the offer is posted (no receiver waits); the sender waits for a taker
    if how == "pause":
        srv.pause()
        t.join(pause)
        srv.resume()
    else:  # killed and restarted with its append-only file (every write fsynced)
        srv.kill()
        t.join(pause)
        srv.start()
    t.join(20)
    assert not t.is_alive()
    what, took = outcome
    got = []
    try:
        got.append(rx.recv_timeout(1.0))
    except mpsc.Timeout:
        pass
    print(f"{how} {pause} s: send_timeout('v', 0.3) -> {what} after {took:.1f} s; a receive afterwards got {got}")
    if took > 0.3 + 0.5 + 0.5:
        problems.append(f"{how} {pause} s: send_timeout(v, 0.3) took {took:.1f} s")
    if what != "returned" and got:
        problems.append(f"{how} {pause} s: the send raised {what} and its value was received afterwards")
    tx.close()
    rx.close()

if problems:
    print("FAIL:", "; ".join(problems))
    sys.exit(1)
print("OK")
