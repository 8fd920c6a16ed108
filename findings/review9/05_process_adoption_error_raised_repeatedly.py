"""Probe (held): a message whose carried handle's adoption genuinely fails must raise once and be consumed.

After 3b60159 anything out of ``_travel._from_message`` counts as an interrupt (retried up to
RETRIES), so a genuine adoption error might have been raised on several receives in a row, the
message blocking those behind it. Provoked with a pickle that names ``_from_message`` with no fds
in its message (a forged/corrupt message). Result on 448dd18 and 95f1c79: raised once, then the
next message: HELD.
Exit 1 if the first receive's error is not followed by the next message.
"""

import sys

import mpsc
import mpsc.process as mpp
from mpsc.process._handles import Sender
from mpsc.process._travel import _from_message


class Forged:
    def __reduce__(self):
        return (_from_message, (Sender, "sender", None, b"x" * 16, 0, 1))


tx, rx = mpp.unbounded()
tx.send(Forged())
tx.send("after")
errors, got = [], []
for _ in range(8):
    try:
        got.append(rx.recv_timeout(2))
        break
    except mpsc.Timeout:
        errors.append("Timeout")
        break
    except Exception as exc:
        errors.append(f"{type(exc).__name__}")
print(f"receives: errors={errors} then got={got}")
tx.close(), rx.close()
sys.exit(0 if len(errors) == 1 and got == ["after"] else 1)
