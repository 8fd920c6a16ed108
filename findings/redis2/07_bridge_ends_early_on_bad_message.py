"""bridge(rx): one message that fails to unpickle (documented for recv: "Whatever unpickling the
message raised (the entry is consumed)") kills the bridge thread, which closes its thread-channel
Sender: the bridged Receiver reports RecvError -- "the channel is over" -- while the Redis channel
still has live Senders and messages. Everything after the bad message is never delivered by the
bridge (and the thread's traceback goes to stderr).

Promise (mpsc.redis.bridge): "while the process lives, every message is delivered once ... and
RecvError ... comes once the Redis channel is disconnected and drained"; the returned Receiver
"gets RecvError once the Redis channel is disconnected and drained".

Cause: ``_bridge.bridge.feed`` catches Timeout, RecvError and ConnectionError only; any other
exception of ``recv_timeout`` (an unpickling error, LeaseExpiredError after a pause of the
process, ServerError) ends the thread and, through ``with local_tx``, disconnects the bridge.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402


def _fail(text: str) -> None:
    raise ValueError(text)


class BadOnArrival:
    """Pickles fine; unpickling raises (a class missing or changed on the receiving side)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (_fail, ("cannot rebuild this value here",))


threading.excepthook = lambda args: print(f"(bridge thread died: {args.exc_type.__name__}: {args.exc_value})")

srv = server()
tx, rx = mpsc.redis.channel(srv.url)
tx.send(1)
tx.send(BadOnArrival())
for i in range(2, 6):
    tx.send(i)
local = mpsc.redis.bridge(rx)
got: list[object] = []
end = "no end"
while True:
    try:
        got.append(local.recv_timeout(5.0))
    except mpsc.RecvError:
        end = "RecvError"
        break
    except mpsc.Timeout:
        end = "Timeout"
        break
print(f"through the bridge: {got}, then {end} (tx was never closed); the Redis channel now says "
      f"is_disconnected() = {tx.is_disconnected()} to its Sender (the bridge closed the only Receiver: 2..5 dropped)")
tx.close()
local.close()
if end == "RecvError" and got != [1, 2, 3, 4, 5]:
    print("FAIL: the bridge said RecvError (channel over) with Senders alive and messages 2..5 never delivered")
    sys.exit(1)
print("OK")
