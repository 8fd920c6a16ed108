"""Under a Python line tracer (pdb, ``trace``, coverage's PyTracer, any ``sys.settrace``) with
two threads receiving, a compiled receive returns a message of *another thread's channel*.

Promise (_steps.c): "``STEPS.receiver = rx`` keeps the receiver for ``STEPS.taken``; with the
GIL, nothing runs in this thread or another between the two (no check point), so one slot is
enough." The two statements are on two lines of ``_implementation._compiled_recv``:
``STEPS.receiver = self`` / ``value = STEPS.taken``; a line tracer runs Python code between
them (here one that writes each line to a file, as ``python -m trace --trace`` prints it, and
pauses a little there, as a debugger stopped at a breakpoint in one thread does while the other
threads run), where the GIL can pass to another thread that stores *its* receiver in the one static
slot (``kept_receiver``). The first thread's ``taken`` then receives from the other thread's
receiver: ``rxa.try_recv()`` returns a message sent on channel b (consumed from b, so b's own
receiver never sees it). (The thread channels' ``_accel.c`` keeps the same kind of slot and
fails the same way: run with the argument ``thread``. Pre-existing there; new here.)

Part 2: the slot also outlives an error raised between the two lines (a trace function's, as
pdb's ``quit`` raises ``BdbQuit``): it keeps that Receiver alive, so once the program drops
it, its channel stays connected (the sender's ``is_disconnected()`` stays False) until some
later receive in the process reuses the slot.

Exit 1 if any message comes out of the wrong channel, or the dropped receiver stays alive; 0
under MPSC_PURE=1.
"""

import os
import sys
import threading
import time

import mpsc
import mpsc.process
from mpsc.process import _implementation

print("implementation:", _implementation.in_use())
N = 1000
THREAD = "thread" in sys.argv[1:]  # the same on thread channels (pre-existing, _accel.c)
channels = {name: (mpsc.channel if THREAD else mpsc.process.channel)() for name in "ab"}
for name, (tx, _rx) in channels.items():
    for i in range(N):
        tx.send((name, i))

wrong = {"a": [], "b": []}
counts = {"a": 0, "b": 0}


LOG = os.open(os.devnull, os.O_WRONLY)
RECV_CODE = (mpsc.Receiver if "thread" in sys.argv[1:] else mpsc.process.Receiver).try_recv.__code__


def tracer(frame, event, arg):
    # What ``python -m trace --trace`` does: write each line out (the write lets the GIL go);
    # and, as a debugger stopped at a line in one thread while the others run, wait a little
    # (here only at lines of mpsc.process's own receive wrapper, to be quick).
    if event == "line":
        os.write(LOG, b"%s:%d\n" % (frame.f_code.co_name.encode(), frame.f_lineno))
        if frame.f_code is RECV_CODE:
            time.sleep(0.0002)
    return tracer


def receive(name):
    rx = channels[name][1]
    sys.settrace(tracer)
    try:
        while True:
            try:
                v = rx.try_recv()
            except mpsc.Empty:
                break
            counts[name] += 1
            if v[0] != name:
                wrong[name].append(v)
    finally:
        sys.settrace(None)


threads = [threading.Thread(target=receive, args=(n,)) for n in "ab"]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
print("received:", counts, "from the wrong channel:", {k: len(v) for k, v in wrong.items()})
for k, v in wrong.items():
    if v:
        print(f"  rx{k} got", v[:3])

# Part 2: an error between the two lines leaves the receiver in the slot.
import gc  # noqa: E402

tx, rx = mpsc.process.channel()
code = mpsc.process.Receiver.try_recv.__code__


class Quit(Exception):
    pass


def quitting(frame, event, arg):
    if event == "line" and frame.f_code is code and frame.f_lineno == code.co_firstlineno + 2:
        if _implementation.in_use() == "compiled":  # (the line `value = STEPS.taken`)
            raise Quit
    return quitting


sys.settrace(quitting)
try:
    rx.try_recv()
except (Quit, mpsc.Empty):
    pass
sys.settrace(None)
del rx
gc.collect()
kept = not tx.is_disconnected()
print("part 2: the dropped receiver is still alive (channel still connected):", kept)
sys.exit(1 if wrong["a"] or wrong["b"] or kept else 0)
