"""A send made by a signal handler that runs inside another send's pickling (on the same
thread) takes that outer send's fds off ``_endpoint._noted``: a child forked meanwhile from
another thread keeps the outer message's duplicates of a carried handle for its whole life.

Promise (mpsc.process docstring, "fork"): "Handles that the parent's other threads had in flight
inside messages are closed in the child as it starts, except one received in the few steps
between its fds' arrival and their being noted: that one the child holds until it exits."
(2a9160d: "the list a send pickles handles' fds into is noted by thread before the first dup
(_endpoint.noting), and the child closes it".) DESIGN §5: a signal handler may run anywhere,
and may itself use the library.

What happens: ``_noted`` has one entry per thread ident. The outer send (main thread) pickles
``[h1, Trigger()]``: ``reduce_handle`` notes the outer list and duplicates h1's fds into it.
Trigger's pickling delivers a real signal; its handler sends another handle (h2) on another
channel: that nested send's ``noting`` replaces the thread's entry with its own list, and at its
end ``unnoting`` pops the entry (the compiled send leaves its own, emptied, list there). Back in
the outer pickling, its list (holding h1's duplicates) is noted nowhere until ``carrying`` runs.
A thread forks in that window (here: Trigger's pickling asks a helper thread to fork and waits
for it, standing for any other thread's fork): the child's at-fork hook does not close h1's
duplicates, which keep h1's channel connected for the child's life. Control: the same scene
with no nested send (the child closes them). Exit 1 if the nested scene's child kept them.
"""

import os
import signal
import sys
import threading

import mpsc.process as mpp
from mpsc.process import _implementation, _travel

print("implementation:", _implementation.in_use())


def scene(nested: bool) -> int:
    """How many of the outer message's fds the child found open."""
    ctx, crx = mpp.channel()  # h1's channel
    dtx, drx = mpp.channel()  # h2's channel
    xtx, xrx = mpp.channel()  # the outer send's channel
    ytx, yrx = mpp.channel()  # the handler's send's channel
    result = {}
    go, done = threading.Event(), threading.Event()

    def forker():
        go.wait(10)
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            open_ = 0
            for fd in result["fds"]:
                try:
                    os.fstat(fd)
                    open_ += 1
                except OSError:
                    pass
            os.write(w, bytes([open_]))
            os._exit(0)
        os.close(w)
        result["open"] = os.read(r, 1)[0]
        os.close(r)
        os.waitpid(pid, 0)
        done.set()

    def handler(signum, frame):
        ytx.send(dtx)  # a signal handler's send of a handle (nested in the outer send)

    class Trigger:
        def __reduce__(self):
            if nested:
                signal.raise_signal(signal.SIGUSR1)  # the handler runs here
            result["fds"] = list(_travel.local.outgoing)  # (h1's duplicates, for the child's look)
            go.set()
            done.wait(10)  # another thread forks now
            return (int, ())

    previous = signal.signal(signal.SIGUSR1, handler)
    t = threading.Thread(target=forker)
    t.start()
    try:
        xtx.send([ctx, Trigger()])
    finally:
        signal.signal(signal.SIGUSR1, previous)
        t.join(10)
    for h in (ctx, crx, dtx, drx, xtx, xrx, ytx, yrx):
        h.close()
    return result.get("open", -1), len(result.get("fds", ()))


control = scene(False)
nested = scene(True)
print("control: child found %d of the outer message's %d fds open" % control)
print("nested:  child found %d of the outer message's %d fds open" % nested)
sys.exit(1 if nested[0] > 0 else 0)
