"""``close()`` (or the end of a ``with`` block) of an inherited Redis handle in a forked child
hangs for good when another thread of the parent held the lease's ``acks_lock`` at the fork
(a hand-out, the lease thread's acknowledgements): ``Lease.release`` starts with
``with self.acks_lock`` and nothing re-initialises that lock in the child
(``os.register_at_fork`` resets the renewer's locks only).

Promises: ``close()`` "Release this handle ... Idempotent"; a forked child "cannot use handles
it inherited" (they raise ClosedHandleError) -- closing them is what a child does at the end
of a ``with`` block it inherited; nothing says it may hang. (The project resets its own locks
in children elsewhere: ``mpsc.process._travel``, ``_async``.)

What happens: an unbounded channel, a feeder thread and three receiving threads sharing one
Receiver in the parent; the main thread forks repeatedly, each child calls ``rx.close()`` and
``tx.close()`` and exits. A child that has not exited after 3 s is killed by SIGALRM
(faulthandler showed it blocked at ``_leases.py`` ``release``: ``with self.acks_lock``).

How often: on 3.13t, one hung child in 75 and in 594 forks (two runs); on 3.11 none in 400
forks with one receiving thread, none in 1500 with three. The script stops at the first hang (bounded: 1500 forks or
120 s) and exits 1.
"""

import faulthandler
import os
import signal
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _srv import server  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)  # (fork with threads: that is the point)
srv = server()
tx, rx = mpsc.redis.unbounded(srv.url, name="f")
stop = False


def feeder() -> None:
    i = 0
    while not stop:
        tx.send_many(range(i, i + 200))
        i += 200
        time.sleep(0.001)


def receiver() -> None:
    while not stop:
        try:
            rx.recv_timeout(0.05)
        except mpsc.Timeout:
            pass


for t in [threading.Thread(target=feeder, daemon=True)] + [
    threading.Thread(target=receiver, daemon=True) for _ in range(3)
]:
    t.start()
hung = None
end = time.monotonic() + 120
forks = 0
while forks < 1500 and time.monotonic() < end and hung is None:
    forks += 1
    pid = os.fork()
    if pid == 0:
        signal.alarm(3)
        faulthandler.dump_traceback_later(2, exit=False)
        try:
            rx.close()
            tx.close()
        except BaseException:
            pass
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        hung = forks
    time.sleep(0.005)
stop = True
print(f"{sys.version.split()[0]}: {forks} forks")
if hung:
    print(f"DEFECT: the child of fork {hung} hung in close() (killed by SIGALRM after 3 s)")
    os._exit(1)
print("ok")
os._exit(0)
