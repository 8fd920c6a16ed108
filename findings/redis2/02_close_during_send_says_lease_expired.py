"""close() of a Sender while another thread sends through it: the send raises
LeaseExpiredError ("its process was paused or cut off from the server for a whole lease")
instead of ClosedHandleError ("This handle was closed").

The Receiver maps a 'lost' reply after a close to ClosedHandleError (``self._open()`` first);
``Sender._send_steps`` sets ``lease.lost`` and raises LeaseExpiredError. A caller that treats
LeaseExpiredError as "we were cut off" (reconnect, alert) is misled, and the handle's repr
says 'closed' while its lease is marked lost. Exits 1 if any send raised LeaseExpiredError."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

srv = server()
outcomes: Counter[str] = Counter()
ghosts = 0
stop_at = time.monotonic() + 25
trials = 0
while trials < 150 and time.monotonic() < stop_at and not outcomes["LeaseExpiredError"] >= 2:
    trials += 1
    tx, rx = mpsc.redis.channel(srv.url)
    ok: list[int] = []
    errs: list[BaseException] = []

    def run() -> None:
        i = 0
        try:
            while True:
                tx.send(i)
                ok.append(i)
                i += 1
        except BaseException as e:  # noqa: BLE001
            errs.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.01 + (trials % 20) * 0.001)
    tx.close()
    t.join(10)
    got: list[int] = []
    while True:
        try:
            got.append(rx.recv_timeout(5))
        except (mpsc.RecvError, mpsc.Timeout):
            break
    rx.close()
    outcomes[type(errs[0]).__name__ if errs else "no exception"] += 1
    if got != ok:
        ghosts += 1
        print(f"trial {trials}: sent {len(ok)} (returned), received {len(got)}")

print(f"{trials} trials: the concurrent send raised {dict(outcomes)}")
if outcomes["LeaseExpiredError"] or ghosts:
    print("FAIL: a send cut off by another thread's close() raised LeaseExpiredError (the lease did not expire:"
          " the handle was closed)" + (f"; {ghosts} trials lost/duplicated values" if ghosts else ""))
    sys.exit(1)
print("OK")
