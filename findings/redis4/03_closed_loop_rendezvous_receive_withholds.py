"""A rendezvous ``recv_async`` whose event loop is closed while it waits keeps its
announcement, and nothing takes it back: ``try_send``/``send`` hand values to a receive that
will never run, and the value is withheld (pending under the idle handle) from every other
receiver until that handle's own next receive.

Promises (mpsc.redis docstring): "``try_send`` succeeds only if a receiver is waiting in
``recv`` right now, else ``Full``"; "one [receive] cut short by an exception between announcing
itself and that look has its lease thread take it back at once"; "an idle or busy worker
withholds nothing from its peers"; known limits: "a receive whose event loop was closed
mid-call is taken over by the next receive" (so the closed-loop case is meant to be handled).

What happens (bounded(0), rx1 and its clone rx2 in one process): a task runs
``rx1.recv_async()`` on a loop, which is closed while the receive waits (announced; the task
object stays referenced, as a task list or a framework keeps it). While rx2 waits in
``recv_timeout(4)``, ``tx.try_send("a")`` succeeds, handed to rx1's stale announcement
(rather than to rx2, or Full); rx2 gets only the next value "b" and then times out, and
XPENDING shows "a" under rx1's consumer for good. With no rx2 waiting, ``try_send``
succeeds with nobody able to receive. The lease thread never watches rx1 (the
stale receive never left, ``_leave`` did not run) and its give-back could not take the lock
anyway (``_give_back``: ``lock.acquire(False)`` fails: "a receive runs"). rx1's own next
``try_recv`` returns them (taking the lock over). Deterministic.

Exit 1 while the defect shows.
"""

import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
tx, rx1 = mpsc.redis.bounded(srv.url, 0, name="rv")
rx2 = rx1.clone()
loop = asyncio.new_event_loop()
task = loop.create_task(rx1.recv_async())  # (kept referenced)
loop.run_until_complete(asyncio.sleep(0.3))  # the receive announced itself and waits
loop.close()
res: dict[str, object] = {}


def other_receiver() -> None:
    got = []
    t_end = time.monotonic() + 4
    while time.monotonic() < t_end:
        try:
            got.append(rx2.recv_timeout(max(0.0, t_end - time.monotonic())))
        except mpsc.Timeout:
            break
    res["rx2"] = got


th = threading.Thread(target=other_receiver)
th.start()
time.sleep(0.2)  # rx2 waits in recv_timeout
try:
    tx.try_send("a")
    res["try_send"] = "succeeded"
except mpsc.Full:
    res["try_send"] = "Full"
t0 = time.monotonic()
try:
    tx.send_timeout("b", 5)
    res["send_timeout"] = f"returned after {time.monotonic() - t0:.3f} s"
except Exception as e:
    res["send_timeout"] = repr(e)
th.join()
pending = srv.command("XPENDING", rx1.name, "rx")
print(res)
print("XPENDING:", pending, "rx1 =", rx1._lease.id)
withheld = [v for v in ("a", "b") if v not in res["rx2"]]  # type: ignore[operator]
if withheld:
    print(f"DEFECT: {withheld} withheld under rx1, whose receive's loop is closed; rx2 waited in recv and got {res['rx2']}")
    os._exit(1)
print("ok")
os._exit(0)
