"""Finding 07: `try_recv()` and `recv_timeout(t)` wait without bound while another thread is in
`recv()` on the same Receiver: they ignore their timeout (or their promise not to wait).

Promises: `try_recv`: "Receive a message that is there now, without waiting." ; `recv_timeout`:
"Receive, waiting at most ``timeout`` seconds."; DESIGN §4.3 "no deadlock". The docstring's
limit says "one Receiver handle serves one call at a time (others wait)" - but a call with a
timeout (or none) must not wait past it; the thread channels allow exactly this use (one thread
blocked in recv, another polling), and the same handle is what `bridge`, iterators and pools
share.

What happens: `Receiver._recv` takes `self._lock` with a plain `with` (no timeout) around the
whole operation, including the blocking XREAD of a `recv()`. A second caller on the same handle
waits for that lock for as long as the first waits for a message - for ever if none comes.

The script: thread A calls `rx.recv()` on an empty channel; the main thread then calls
`rx.try_recv()` and `rx.recv_timeout(0.2)` in helper threads and checks they end within 2 s.
Exit 1 when they do not.
"""

from __future__ import annotations

import sys
import threading
import time

from _srv import server

import mpsc
import mpsc.redis as mr


def timed(fn, limit: float) -> tuple[bool, str]:
    out: list[str] = []

    def run() -> None:
        try:
            out.append(repr(fn()))
        except Exception as exc:
            out.append(type(exc).__name__)

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(limit)
    return (not t.is_alive()), (out[0] if out else f"still waiting after {time.monotonic() - start:.1f} s")


def main() -> int:
    srv = server()
    tx, rx = mr.channel(srv.url)
    def block() -> None:  # a recv() (bounded at 8 s so that the script ends)
        try:
            rx.recv_timeout(8)
        except mpsc.RecvError:
            pass

    blocker = threading.Thread(target=block, daemon=True)
    blocker.start()
    time.sleep(0.3)
    bad = []
    for label, fn in (("try_recv()", rx.try_recv), ("recv_timeout(0.2)", lambda: rx.recv_timeout(0.2))):
        ended, what = timed(fn, 2.0)
        print(f"{label} while another thread is in recv(): {what}")
        if not ended:
            bad.append(f"{label} did not return within 2 s ({what}) while another thread waits in recv()")
    tx.close()
    blocker.join(10)
    rx.close()
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
