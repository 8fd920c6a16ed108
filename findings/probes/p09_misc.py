"""Probe: small semantic checks.
a. SIGPIPE at SIG_DFL (as many CLI tools set it): a receiver of a bounded channel draining after
   the last Sender is gone.
b. a value whose unpickling fails: how many times is it unpickled, and which error is raised
   (plain value / value holding a handle)?
"""

from __future__ import annotations

import os
import signal
import sys

import mpsc
import mpsc.process as mpp

calls = 0


def explode() -> None:
    global calls
    calls += 1
    raise ValueError("boom: this value cannot be rebuilt here")


class Explodes:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (explode, ())


def sigpipe() -> str:
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        tx, rx = mpp.sync_channel(2)
        tx.send("a")
        tx.send("b")
        tx.close()
        got = [rx.recv_timeout(1), rx.recv_timeout(1)]
        os._exit(0 if got == ["a", "b"] else 3)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"BAD: receiver process killed by signal {os.WTERMSIG(status)} while draining after the last Sender closed"
    return f"OK: exit {os.waitstatus_to_exitcode(status)}"


def unpickle_twice() -> list[str]:
    global calls
    out = []
    for label in ("plain", "with a handle"):
        tx, rx = mpp.channel()
        otx, orx = mpp.channel()
        calls = 0
        tx.send(Explodes() if label == "plain" else [otx, Explodes()])
        try:
            rx.recv_timeout(1)
            out.append(f"{label}: recv returned")
        except Exception as e:
            out.append(
                f"{label}: recv raised {type(e).__name__}: {e}; unpickling code ran {calls} time(s); context {e.__context__!r}"
            )
        otx.close()
        try:
            orx.recv_timeout(1)
        except mpsc.RecvError:
            out.append(f"{label}: the handle carried in the failed message was released")
        except mpsc.Timeout:
            out.append(f"{label}: the handle carried in the failed message is still open somewhere")
        for h in (tx, rx, orx):
            h.close()
    return out


def main() -> int:
    signal.alarm(30)
    print("a.", sigpipe())
    for line in unpickle_twice():
        print("b.", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
