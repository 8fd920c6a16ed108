"""A child forked while the reaper has taken a collected handle out of ``pending`` (and not yet
uncounted it) keeps that handle's side open for its whole life: the channel never disconnects.

Promises: _endpoint._after_fork_in_child "the parent's pending drops are ours too" (a forked
child releases the handles its parent had collected); /work/shared/DESIGN.md §4.3 "a blocked
recv wakes when a value arrives or the last sender goes"; DESIGN.md §10 "A fork copies only what
the child should hold".

What happens: ``_Reaper._run`` does ``handle, endpoint = self.pending.popitem()`` and then
``endpoint.drop(handle)``, which waits for the endpoint's lock (the reaper exists because a
finalizer found that lock taken, so it is often still taken when the reaper runs). A fork from
another thread in between: the child's copy of ``pending`` no longer has the handle, and the
reaper thread holding it in its locals does not exist there, so the child's endpoint keeps
counting a handle nobody has; its fds stay open. The parent's receiver sees no end of stream
until the child exits, although no process holds a Sender. (Here the test holds the endpoint's
lock, standing in for another thread inside a close/clone/drop of the same side; without the
lock held the window is popitem -> lock acquire, a few check points.)

Exit 1 when the receiver waits past 1 s for a disconnection that happened in the parent at once.
"""

import gc
import os
import sys
import time

import mpsc
import mpsc.process
from mpsc.process import _endpoint


def main() -> int:
    tx, rx = mpsc.process.channel()
    ep = tx._ep
    ep.lock.acquire()  # another thread inside a close/clone of this side
    del tx
    gc.collect()
    time.sleep(0.2)  # the reaper popped the handle and waits for the lock
    in_pending = len(_endpoint._reaper.pending)
    pid = os.fork()
    if pid == 0:
        time.sleep(3.0)  # the child holds no Sender handle: it just lives a while
        os._exit(0)
    ep.lock.release()  # the parent's reaper drops it now
    start = time.monotonic()
    outcome = "timeout"
    try:
        rx.recv_timeout(2.0)
        outcome = "a value?"
    except mpsc.RecvError:
        outcome = "RecvError"
    except mpsc.Timeout:
        pass
    waited = time.monotonic() - start
    os.waitpid(pid, 0)
    print(f"pending at the fork: {in_pending}; receiver: {outcome} after {waited:.2f} s")
    bad = outcome != "RecvError" or waited > 1.0
    print("DEFECT: the child kept a collected Sender's side open" if bad else "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
