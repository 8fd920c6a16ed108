"""Finding 09: a `recv_async()` whose event loop is closed while it waits leaves the Receiver
locked for ever: every later `recv()`/`try_recv()`/`recv_timeout()` on it hangs.

Promise: DESIGN §4.7: "no waiter is left that nobody wakes ... The same holds in a forked child
and for a task whose event loop is gone." `Receiver.recv_async`: "Safe to cancel".
`try_recv`: "without waiting"; `recv_timeout`: "waiting at most ``timeout`` seconds".

What happens: `recv_async` takes the handle's `threading.Lock` (non-blocking acquire in a sleep
loop) and releases it in a `finally`. When the loop is closed with the task still pending (a
`run_until_complete` of something else, a framework that closes its loop, a thread whose loop
is dropped), the coroutine never resumes, its `finally` never runs (the task stays referenced
by the closed loop's machinery, or the coroutine is never closed), and the lock stays taken.
The sync methods then block on `with self._lock` without timeout (see finding 07).

The script: a private loop runs `rx.recv_async()` on an empty channel for 0.2 s, then the loop
is closed; a value is sent; `rx.recv_timeout(2)` in a thread must return it. Exit 1 if it is
still blocked after 4 s.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading

from _srv import server

import mpsc.redis as mr


def main() -> int:
    srv = server()
    tx, rx = mr.channel(srv.url)
    loop = asyncio.new_event_loop()
    task = loop.create_task(rx.recv_async())
    loop.run_until_complete(asyncio.sleep(0.2))
    loop.close()
    del task, loop
    gc.collect()
    tx.send("after")
    out: list[object] = []

    def later() -> None:
        try:
            out.append(rx.recv_timeout(2))
        except Exception as exc:
            out.append(exc)

    t = threading.Thread(target=later, daemon=True)
    t.start()
    t.join(4)
    if t.is_alive():
        print("FAIL: recv_timeout(2) still blocked after 4 s: the closed loop's recv_async holds the handle's lock")
        return 1
    print("ok:", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
