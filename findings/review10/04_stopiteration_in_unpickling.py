"""A value whose unpickling raises ``StopIteration`` (a reconstructor that calls ``next()`` on an
exhausted iterator, say) is handled three different ways: the compiled step (a small value)
raises it — and ``for v in rx`` then *ends* although senders are alive and messages follow —;
the pure code, and the compiled step for a large or handle-carrying value (finished by the pure
code), drop the message silently: no error, the receive returns the next message (or
``try_recv`` says ``Empty``).

Promises: ``Receiver.recv`` doc: "A message that cannot be unpickled here is consumed and its
error raised." ``__iter__``: "Iterate over messages as they arrive, until every Sender is gone
and all are received." _steps.c: anything it does not settle "is finished by the pure code
(``_handles._finish_taken``), which settles it exactly as its own receive would" (so both
implementations should agree).

Why: the pure ``_wire._decode`` calls ``pickle.loads`` as ``for taking.value in map(pickle.loads,
feed): break``; a ``StopIteration`` out of ``loads`` is taken by the ``for`` as the end of the
``map``: ``value`` stays ``NOTHING``, which ``_try_take`` reads as "a withdrawn offer, no
message", and it takes the next datagram. The compiled step calls ``loads`` directly and
returns the error; ``__next__`` lets a ``StopIteration`` through, which a ``for`` loop takes for
its end.

Checks (small and large value; recv, try_recv, for): the first receive must raise StopIteration
(the value's error) and the next one give the message behind it; exit 1 if any case differs.
"""

import sys

import mpsc
import mpsc.process
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())
calls = [0]


def rebuild():
    calls[0] += 1
    return next(iter(()))  # raises StopIteration


class Exhausted:
    def __reduce__(self):
        return (rebuild, ())


bad = 0
for large in (False, True):
    for how in ("recv", "try_recv", "for"):
        calls[0] = 0
        tx, rx = mpsc.process.channel()
        tx.send((Exhausted(), b"L" * 70_000) if large else Exhausted())
        tx.send("next message")
        tx.close()  # (nothing more comes: a receive past the end raises RecvError, never waits)
        outcome = []
        for _attempt in range(2):
            try:
                if how == "for":
                    got = "(the for loop ended)"
                    for got in rx:
                        break
                else:
                    got = getattr(rx, how)()
                outcome.append(got)
            except StopIteration:
                outcome.append("StopIteration raised")
            except mpsc.Empty:
                outcome.append("Empty")
            except mpsc.RecvError:
                outcome.append("RecvError")
        # (a for loop cannot show the error as such: it must not end before the message behind)
        ok = outcome == ["StopIteration raised", "next message"]
        bad += not ok
        print(f"{'large' if large else 'small'} {how:8}: {outcome} (reconstructor ran {calls[0]}x) {'' if ok else '<- WRONG'}")
        tx.close()
        rx.close()

# try_recv with nothing behind it: the message vanishes as "Empty"
tx, rx = mpsc.process.channel()
tx.send(Exhausted())
try:
    r = rx.try_recv()
    print("try_recv alone:", r)
    bad += 1
except StopIteration:
    print("try_recv alone: StopIteration raised (the value's error)")
except mpsc.Empty:
    print("try_recv alone: Empty — the message vanished without an error <- WRONG")
    bad += 1
sys.exit(1 if bad else 0)
