"""Finding 11: on an unbounded channel, a backlog of large (but individually fine) messages makes
every `recv()` fail with ConnectionError for ever: the receiver can never take one.

Promises: `recv`: "mpsc.redis.ConnectionError: The server could not be reached for
``RETRY_FOR`` seconds" (it was reachable all along); DESIGN §4.3 "no deadlock"; the docstring
("Values are pickled"; ``BATCH`` "Entries an unbounded channel's Receiver fetches per round
trip") sets no size limit, and a single 50 MB value goes through fine.

What happens: an unbounded Receiver fetches up to BATCH (100) entries in one RECV script reply,
whatever their size, and each attempt must be read within IO_TIMEOUT (2 s). With 20 values of
20 MB queued, the reply is 400 MB: it does not arrive in time, the connection is dropped, the
retry re-reads this consumer's pending entries (COUNT 100: the same 400 MB) and fails again, and
after RETRY_FOR the call raises ConnectionError. The next `recv()` does exactly the same. The
entries sit pending under this live receiver, so no other receiver gets them either; the channel
is wedged while the receiver lives (the server also builds a 400 MB reply each time).

The script: 20 x 20 MB values (a producer that was faster than its consumer), then two `recv()`
calls. Exit 1 when neither returns a value. (~10-15 s, ~2 GB of RAM between client and server.)
"""

from __future__ import annotations

import sys
import time

from _srv import server

import mpsc.redis as mr


def main() -> int:
    srv = server()
    tx, rx = mr.channel(srv.url)
    value = b"x" * (20 * 1024 * 1024)
    for _ in range(20):
        tx.send(value)
    del value
    failures = []
    for attempt in range(2):
        t0 = time.monotonic()
        try:
            got = rx.recv()
            print(f"recv #{attempt + 1}: {len(got)} bytes in {time.monotonic() - t0:.1f} s")
            break
        except mr.ConnectionError as exc:
            failures.append(f"recv #{attempt + 1} raised ConnectionError after {time.monotonic() - t0:.1f} s: {exc.message[:90]}")
    for f in failures:
        print(f)
    tx.close()
    rx.close()
    if len(failures) == 2:
        print("FAIL: the server is up, 20 messages of 20 MB are queued, and the receiver cannot take one")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
