"""A compiled send that meets a full bounded channel pickles the value twice (memfd written twice).

Promise (DESIGN.md §10): "Whatever a step cannot finish it leaves to the pure method untouched
(nothing sent, nothing taken, the row balanced) — a full buffer, no free slot, ..."; the only
case named where "the pure send does it all again" is a value with a handle inside. The
mpsc.process docstring: "Values are pickled at ``send``".

What happens: ``sender_set_sent`` pickles the value (and for a pickle over 64 KiB creates a memfd
and writes the whole pickle into it) *before* ``send_body`` looks for a credit. With no free slot
it raises Undecided, and the pure ``send``/``try_send`` pickles the value again from scratch
(and writes a second memfd). So on a bounded channel under back-pressure -- the reason to bound
it -- every send that has to wait runs the value's ``__reduce__``/``__getstate__`` twice and pays
the pickling (and the memfd copy) twice: a ``try_send`` of 50 MB that ends in ``Full`` takes
~2x as long as with ``MPSC_PURE=1`` (about 107 ms vs 53 ms here). A value whose pickling has side
effects (a counter, a snapshot of state another thread mutates) sees them twice, unlike the
pure reference. Exit 1 when a single send (or try_send) runs the value's pickling more than once.
"""

import sys
import threading

import mpsc
import mpsc.process as mp
from mpsc.process import _implementation as impl

calls = 0


def rebuild() -> "Counted":
    return Counted()


class Counted:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        global calls
        calls += 1
        return (rebuild, ())


tx, rx = mp.sync_channel(1)
tx.send("fill")
timer = threading.Timer(0.2, rx.recv)
timer.start()
tx.send(Counted())  # waits for the slot the timer frees
timer.join()
send_calls = calls
calls = 0
try:
    tx.try_send(Counted())
except mpsc.Full:
    pass
try_calls = calls
print(f"implementation={impl.in_use()} pickling calls: send to a full channel={send_calls}, "
      f"try_send -> Full={try_calls} (pure: 1 and 1)")
sys.exit(1 if send_calls > 1 or try_calls > 1 else 0)
