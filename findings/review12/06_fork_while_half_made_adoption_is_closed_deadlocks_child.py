"""A fork (from another thread) while a receiving thread is closing a carried handle's half-made
adoption — inside ``Endpoint.force_close``, which holds that Endpoint's ``lock`` — hangs the
child for ever in its at-fork handler: ``_endpoint._after_fork_in_child`` first closes the
records of operations in flight (``_carrying``: ``Taking.close``), and since 71149bf
``Taking.close`` calls ``_travel.abandon`` → ``Adoption.close`` → ``Endpoint.force_close``,
which takes ``endpoint.lock`` — a lock the parent's thread held at the fork, and which
``_after_fork_in_child`` reinitializes only *after* closing those records. (Before 71149bf
``Taking.close`` took no lock.)

Promise: DESIGN.md "A fork copies only what the child should hold. A forked child closes the fds
of handles that its parent's threads had in flight (``_endpoint.carrying``...)"; _endpoint
``carrying``: "The child closes them as it starts." — it never starts.

What happens here: the main thread receives a message carrying the Sender of a bounded channel
whose Sender this process closed; a KeyboardInterrupt (raised by a signal handler at CPython's
own check points, as tests/checkpoints.SignalInjector does) lands as ``Endpoint.new_handle``
starts inside ``Adoption.make`` (the Endpoint made, its handle not yet): the receive unpickles
again, and ``_from_message`` closes the half-made adoption first. At the first check point
inside that ``force_close`` (after ``sock.close()``, the lock held), the handler — instead of
raising — lets another thread fork, and waits 0.5 s (as a thread switch at that check point
would). The child never gets out of ``os.fork()``. Exit 1 if the child is still alive after 5 s
(it is then killed). With the argument ``control`` the fork comes at ``Adoption.close``'s start
(before the lock is taken) instead, and the child exits at once.
"""

import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))
from checkpoints import SignalInjector  # noqa: E402

import mpsc.process as mpp  # noqa: E402
from mpsc.process import _endpoint, _implementation  # noqa: E402

print("implementation:", _implementation.in_use())
SETTLE = _endpoint.Endpoint._settle_locked.__code__
FORCE = _endpoint.Endpoint.force_close.__code__
FORCE_MARK = object()
CONTROL = len(sys.argv) > 1 and sys.argv[1] == "control"  # fork just before force_close instead


class Scene(SignalInjector):
    """Raise once as ``Endpoint.new_handle`` starts in an adoption; then, at the first check point
    inside that Endpoint's ``force_close`` (lock held), have the forker thread fork."""

    def __init__(self, fork_now, forked):
        super().__init__(10**9, 0)
        self.fork_now, self.forked = fork_now, forked
        self.stage = 0
        self.fork_where = ""

    def _handler(self, signum, frame):
        if not self.on:
            return
        if self.stage == 0 and frame is not None and frame.f_code.co_name == "new_handle":
            caller = frame.f_back
            if caller is not None and caller.f_code.co_qualname == "Adoption.make":
                self.stage = 1
                self._pend()
                raise KeyboardInterrupt
        if self.stage == 1 and CONTROL and frame is not None and frame.f_code.co_qualname == "Adoption.close":
            outer = FORCE_MARK  # control: fork before force_close takes the lock
        elif self.stage == 1 and frame is not None and frame.f_code is SETTLE:
            outer = frame.f_back
        else:
            outer = None
        if self.stage == 1 and outer is not None:
            while outer is not FORCE_MARK and outer is not None and outer.f_code is not FORCE:
                outer = outer.f_back
            if outer is not None:
                self.stage = 2
                self.fork_where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
                self.fork_now.set()
                self.forked.wait(5)
                time.sleep(0.5)
                self.on = False
                return
        self._pend()


fork_now, forked = threading.Event(), threading.Event()
child = []


def forker():
    fork_now.wait(30)
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # (reached only once the at-fork handlers are done)
    child.append(pid)
    forked.set()


thread = threading.Thread(target=forker, daemon=True)
thread.start()
tx, rx = mpp.channel()
otx, orx = mpp.sync_channel(2)
tx.send(("h", otx))
otx.close()
scene = Scene(fork_now, forked)
out = []
_, exc = scene.call(lambda: out.append(rx.recv_timeout(5)))
print("receive:", "value" if out else "nothing", "| raised:", repr(exc), "| forked at:", scene.fork_where or "(never)")
if not fork_now.is_set():
    fork_now.set()
thread.join(10)
hung = False
if child:
    pid = child[0]
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        hung = True
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print("forked child:", "still in os.fork() after 5 s (killed)" if hung else f"exited ({status})")
sys.exit(1 if hung else 0)
