"""A value whose own unpickling raises ``mpsc.RecvError`` (a reconstructor that itself receives
from a thread channel whose senders are gone, say) ends ``for v in rx`` silently under the pure
implementation — although every sender is alive and messages follow — while the compiled one
(``Receiver.__next__`` = the C step) raises ``RecvError`` out of the ``for`` loop.

Promises: ``Receiver.__iter__``: "Iterate over messages as they arrive, until every Sender is
gone and all are received"; ``recv``: "A message that cannot be unpickled here is consumed and
its error raised"; _steps.c: the compiled steps do "the same steps" as the pure methods, which
are "the reference" (so the two must agree).

Why: the pure ``__next__`` is ``try: return self._recv(None, False) except RecvError: raise
StopIteration`` — it cannot tell the end of the stream from a value's own RecvError; the
compiled ``__next__`` only hands the end of the stream (an empty read) to the pure one, and
returns the value's error as it came. (Same family as 04; review 9 finding 01 was the same
confusion for mpsc.redis.)

Runs itself under both implementations (``MPSC_PURE=1`` and not): exit 1 when, in either,
the ``for`` loop ends before the message behind the bad one, or the outcome is not "the value's
error raised, then the next message" (today: the pure one fails, the compiled one holds).
"""

import os
import subprocess
import sys

if "--one" not in sys.argv:
    codes = []
    for pure in ("1", ""):
        env = dict(os.environ, MPSC_PURE=pure)
        codes.append(subprocess.run([sys.executable, __file__, "--one"], env=env, timeout=60).returncode)
    sys.exit(1 if any(codes) else 0)

import mpsc
import mpsc.process
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())


def rebuild():
    raise mpsc.RecvError()


class Bad:
    def __reduce__(self):
        return (rebuild, ())


bad = 0
for large in (False, True):
    tx, rx = mpsc.process.channel()
    tx.send((Bad(), b"L" * 70_000) if large else Bad())
    tx.send("next message")
    outcome = []
    for _attempt in range(2):
        try:
            ended = True
            for v in rx:
                outcome.append(v)
                ended = False
                break
            if ended:
                outcome.append("(for loop ended: as if every sender were gone)")
        except mpsc.RecvError:
            outcome.append("RecvError raised (the value's error)")
    ok = outcome == ["RecvError raised (the value's error)", "next message"]
    bad += not ok
    print(f"{'large' if large else 'small'}: {outcome} senders alive: {not rx.is_disconnected()} {'' if ok else '<- WRONG'}")
    tx.close()
    rx.close()
sys.exit(1 if bad else 0)
