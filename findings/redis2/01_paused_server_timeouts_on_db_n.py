"""A paused server: timeouts must fire ("Timeouts fire while it is paused", mpsc.redis), i.e.
try_recv / recv_timeout(t) / send_timeout(v, t) return within t + GRACE (0.5 s).

With a URL naming a database other than 0 (or a password), every *new* connection first sends
SELECT (AUTH) and waits for its reply with the socket timeout (IO_TIMEOUT = 2 s), ignoring the
call's deadline. The first timed call on a paused server drops its connection (no reply in
time), so every later one opens a new connection and takes ~2 s: try_recv() 'without waiting'
takes 2 s, recv_timeout(0.05) takes 2 s."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

LIMIT = 0.05 + 0.5 + 0.4  # timeout + GRACE + slack

plain = server()
secret = server(password="pw")
bad = []
for srv, url in (
    (plain, f"redis://127.0.0.1:{plain.port}/0"),  # control: no handshake
    (plain, f"redis://127.0.0.1:{plain.port}/3"),  # SELECT 3 at each new connection
    (secret, f"redis://:pw@127.0.0.1:{secret.port}/0"),  # AUTH at each new connection
):
    db = url.replace(":pw@", ":***@")
    tx, rx = mpsc.redis.channel(url, lease=5)
    srv.pause()
    try:
        for name, call, exc in (
            ("recv_timeout(0.05)", lambda: rx.recv_timeout(0.05), mpsc.Timeout),
            ("send_timeout(v, 0.05)", lambda: tx.send_timeout(1, 0.05), mpsc.Timeout),
            ("recv_timeout(0.05) again", lambda: rx.recv_timeout(0.05), mpsc.Timeout),
            ("send_timeout(v, 0.05) again", lambda: tx.send_timeout(1, 0.05), mpsc.Timeout),
        ):
            t0 = time.monotonic()
            try:
                call()
                outcome = "returned"
            except exc as e:
                outcome = type(e).__name__
            except mpsc.redis.ConnectionError as e:
                outcome = f"ConnectionError({e})"
            took = time.monotonic() - t0
            print(f"db {db}: {name}: {outcome} after {took:.2f} s")
            if took > LIMIT:
                bad.append(f"db {db}: {name} took {took:.2f} s (> {LIMIT:.2f})")
    finally:
        srv.resume()
    time.sleep(0.3)
    tx.close()
    rx.close()

if bad:
    print("FAIL: timeouts ignored on a paused server:")
    for b in bad:
        print("  ", b)
    sys.exit(1)
print("OK")
