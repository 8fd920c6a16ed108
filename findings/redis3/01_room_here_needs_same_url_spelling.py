"""Finding 01: "a receive that returned here makes room for a send here at once" holds only
when the Sender and the Receiver were opened with the very same URL string.

Promise (mpsc.redis docstring, guarantees, "Exactly once"): "On a bounded channel the
acknowledgement (and so the room) follows the return: carried by the receiver's next fetch,
else sent by its lease thread ACK_DELAY (2 ms) later; a ``send``, ``try_send`` or ``len()`` in
the receiver's own process acknowledges what its receives returned first, so a receive that
returned here makes room for a send here at once (review 2, finding 05)."

What happens: one process opens the channel ``jobs`` (bounded(1)) twice by name, the Sender
through ``redis://127.0.0.1:PORT/0`` and the Receiver through ``redis://127.0.0.1:PORT`` (the
same server and database: redis-py reads no path as /0; ``localhost`` for ``127.0.0.1`` does
the same). After ``rx.recv()`` returned, ``tx.send_timeout(v, 0)`` raises Timeout and
``len(tx)`` still counts the received entry: ``_handles._ack_here`` only looks at the
receivers of the same ``_link.Link`` object, and ``_link.link()`` keys Links by the URL string.
With the same string both work (checked first, as a control). Deterministic.

Exits 1 while the defect shows.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server

import mpsc
import mpsc.redis

srv = server(persist=False)
P = srv.port


def trial(url_tx: str, url_rx: str, name: str) -> tuple[int, int]:
    tx, r0 = mpsc.redis.bounded(url_tx, 1, name=name)
    t0, rx = mpsc.redis.bounded(url_rx, 1, name=name)
    r0.close()
    t0.close()
    timeouts = stale_len = 0
    tx.send(0)
    for k in range(1, 21):
        assert rx.recv() == k - 1
        if len(tx) != 0:
            stale_len += 1
        try:
            tx.send_timeout(k, 0)
        except mpsc.Timeout:
            timeouts += 1
            tx.send(k)
    tx.close()
    rx.close()
    return timeouts, stale_len


same = trial(f"redis://127.0.0.1:{P}/0", f"redis://127.0.0.1:{P}/0", "jobs-same")
print(
    f"same URL string:   of 20, send_timeout(v, 0) Timeout {same[0]}, len() counting the received entry {same[1]}"
)
other = trial(f"redis://127.0.0.1:{P}/0", f"redis://127.0.0.1:{P}", "jobs-other")
print(
    f"'/0' vs no path:   of 20, send_timeout(v, 0) Timeout {other[0]}, len() counting the received entry {other[1]}"
)
other2 = trial(f"redis://127.0.0.1:{P}/0", f"redis://localhost:{P}/0", "jobs-other2")
print(
    f"127.0.0.1 vs localhost: of 20, send_timeout(v, 0) Timeout {other2[0]}, len() counting the received entry {other2[1]}"
)
if same != (0, 0):
    print("control failed: the promise does not hold even with one URL string")
    sys.exit(1)
sys.exit(1 if other != (0, 0) or other2 != (0, 0) else 0)
