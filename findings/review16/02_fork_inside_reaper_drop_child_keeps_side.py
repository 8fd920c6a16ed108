"""A child forked while the reaper is inside ``Endpoint.drop`` — after ``handle._ep = None``,
before ``self.handles -= 1`` — keeps the handle's side open for its whole life: its copy of
the reaper drops the still-pending handle again, and that drop, seeing ``handle._ep`` already
None, does nothing. The channel never disconnects while the child lives.

Promise: 8ec2d6e (review 15/02's fix): "Forgotten only once dropped: a child forked meanwhile
(from another thread) finds it still pending and drops it itself (a drop is idempotent)";
``_after_fork_in_child`` "(the parent's pending drops are the child's too)"; /work/shared/DESIGN.md
§4.3 (a blocked recv wakes when the last sender goes); DESIGN.md §10 "A fork copies only what
the child should hold".

What happens: ``drop`` is idempotent by ``handle._ep is self``, and its first store clears that
before the uncount; the two stores are separate bytecodes (a switch to another thread, which
forks, can come between). The child's endpoint then counts a handle nobody holds, and the
re-drop the fix relies on is a no-op. Here a trace function in the reaper thread stops it at
the line of the uncount (standing for a GIL switch there) while the main thread forks; control:
the same fork after the drop. Exit 1 if the receiver sees no disconnection within 1 s although
no process holds a Sender (the child lives 3 s).
"""

import gc
import os
import sys
import threading
import time

import mpsc
import mpsc.process
from mpsc.process import _endpoint

DROP = _endpoint.Endpoint.drop.__code__
PARENT = os.getpid()
STOPPED = []


def scene(in_window: bool) -> bool:
    """Whether the receiver saw the end of stream within 1 s."""
    at_window, forked = threading.Event(), threading.Event()

    def trace(frame, event, arg):
        if frame.f_code is not DROP or os.getpid() != PARENT:
            return None
        if event == "line" and "self.handles -= 1" in _line(frame) and in_window:
            at_window.set()
            STOPPED.append(True)
            forked.wait(5)
        return trace

    tx, rx = mpsc.process.channel()
    ep = tx._ep
    threading.settrace(trace)
    try:
        ep.lock.acquire()  # another thread inside a close/clone of this side: the drop goes to the reaper
        del tx
        gc.collect()
        ep.lock.release()
        if in_window:
            at_window.wait(5)
        else:
            t0 = time.monotonic()
            while _endpoint._reaper.pending and time.monotonic() - t0 < 5:
                time.sleep(0.01)
        pid = os.fork()
        if pid == 0:
            time.sleep(3)
            os._exit(0)
        forked.set()
    finally:
        threading.settrace(None)
    try:
        rx.recv_timeout(1.0)
        ended = False
    except mpsc.RecvError:
        ended = True
    except mpsc.Timeout:
        ended = False
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    rx.close()
    return ended


def _line(frame):
    import linecache

    return linecache.getline(frame.f_code.co_filename, frame.f_lineno)


window = scene(True)  # first: the reaper thread starts here, traced (threading.settrace)
print("stopped in the window:", STOPPED)
control = scene(False)
print("control (fork after the drop): end of stream seen:", control)
print("fork inside the drop's two stores: end of stream seen:", window)
sys.exit(1 if STOPPED and control and not window else 0)
