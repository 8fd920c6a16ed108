"""Finding 03: with SIGPIPE at its default action (as many command-line programs set it), a
process receiving from a bounded process channel is killed by SIGPIPE when it receives a message
after the last Sender is gone.

A receiver gives a credit back for every message it takes by writing one byte to the credit
pipe (`_wire.settle`). Only Senders hold the pipe's read end, so once the last Sender is closed
(or its process exited), that write gets EPIPE - and, first, SIGPIPE. The code expects
BrokenPipeError (it catches it), which is only what Python's default SIG_IGN turns SIGPIPE
into; the data socket is written with MSG_NOSIGNAL for exactly this reason, the pipes are not.
`signal.signal(SIGPIPE, SIG_DFL)` is the usual advice for CLI tools (e.g. so that `| head`
ends them quietly), and a library must not kill its host for a condition it handles.

Promise broken: README "receivers drain what was sent and then get RecvError"; DESIGN §4.1
"Messages already buffered are still delivered after the last sender goes".
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import os
import signal
import sys

import mpsc
import mpsc.process as mpp


def main() -> int:
    signal.alarm(20)
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        tx, rx = mpp.sync_channel(2)
        tx.send("a")
        tx.send("b")
        tx.close()  # the last Sender: buffered messages must still be delivered
        got = []
        try:
            while True:
                got.append(rx.recv_timeout(2))
        except mpsc.RecvError:
            pass
        os._exit(0 if got == ["a", "b"] else 3)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        print(
            f"PROBLEM: the receiving process was killed by signal {os.WTERMSIG(status)} "
            f"({signal.Signals(os.WTERMSIG(status)).name}) while draining after the last Sender closed"
        )
        return 1
    code = os.waitstatus_to_exitcode(status)
    print("ok" if code == 0 else f"PROBLEM: child exit {code}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
