"""Whenever the compiled send step hands a send over to the pure code, the value is pickled a
second time: its own pickling code (``__reduce__``/``__getstate__``) runs twice per send, with
its side effects twice (here: a message it sends itself arrives twice).

Promise (_steps.c): "hands every other case, untouched, to them [the pure methods]";
mpsc.process doc: "Values are pickled at ``send``"; the pure ``Sender.send`` pickles a value
once (``_wire.encode``, then its message is sent as often as needed).

What happens: ``sender_set_sent`` pickles the value (``pickled``), then finds it must not send
it itself — a handle inside the value (always), a full kernel buffer, no receiver left, the
handle closed meanwhile — drops the pickle and raises ``Undecided``; ``Sender.send`` then runs
the pure send, which pickles the value again. Counts: the value's ``__reduce__`` calls per send,
in four cases; exit 1 if any is not 1 (0 under MPSC_PURE=1). Also prints the extra messages a
``__reduce__`` that sends a note on another channel leaves there.
"""

import sys

import mpsc
import mpsc.process
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())
calls = [0]
notes_tx, notes_rx = mpsc.process.channel()


def rebuild(x):
    return Noted(x)


class Noted:
    def __init__(self, x):
        self.x = x

    def __reduce__(self):
        calls[0] += 1
        notes_tx.send(("pickled", self.x))  # a side effect: a note on another channel
        return (rebuild, (self.x,))


def notes():
    n = 0
    while True:
        try:
            notes_rx.try_recv()
            n += 1
        except mpsc.Empty:
            return n


results = {}

# 1. a value with a handle inside (the step always hands these over)
tx, rx = mpsc.process.channel()
otx, orx = mpsc.process.channel()
calls[0] = 0
tx.send((Noted(1), otx))
results["handle inside"] = (calls[0], notes())
v = rx.recv()
v[1].close()

# 2. a full kernel buffer: try_send raises Full (nothing sent)
small = b"x" * 1000
while True:
    try:
        tx.try_send(small)
    except mpsc.Full:
        break
calls[0] = 0
try:
    tx.try_send(Noted(2))
except mpsc.Full:
    pass
results["full buffer, try_send"] = (calls[0], notes())

# 3. every receiver gone: SendError
rx.close()
calls[0] = 0
try:
    tx.send(Noted(3))
except mpsc.SendError:
    pass
results["no receiver"] = (calls[0], notes())

# 4. a plain value on an open channel (the step sends it): the reference
tx2, rx2 = mpsc.process.channel()
calls[0] = 0
tx2.send(Noted(4))
results["plain value"] = (calls[0], notes())

bad = False
for case, (n, extra_notes) in results.items():
    print(f"{case}: pickled {n} time(s) for one send; notes its pickling sent: {extra_notes}")
    bad |= n != 1
sys.exit(1 if bad else 0)
