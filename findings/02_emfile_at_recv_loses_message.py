"""Finding 02: a receive made while the process is out of file descriptors (EMFILE) destroys the
message it took, and says "not sent by mpsc.process?".

A message that carries fds (a large value's memfd, a handle inside the value) is read with
recvmsg; when the receiving process cannot install the fds, the kernel drops them and sets
MSG_CTRUNC. `_wire._parse` then marks the message failed and raises RuntimeError("a message
arrived truncated (not sent by mpsc.process?)"), the datagram is consumed (and, on a bounded
channel, its credit given back): the value is gone for every receiver. A second recv, once
fds are free again, gets the *next* message.

Promise broken: DESIGN §4.1 "No message is lost or duplicated: every value whose send returned
normally is received exactly once"; Receiver.recv: "A message that cannot be unpickled here is
consumed and its error raised" (this message could be unpickled: only a transient resource
limit stood in the way, and the error text blames the sender).
Expected instead: OSError(EMFILE) (as open() would raise) and the message left in the channel,
or at least an error that says what happened.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import mpsc.process as mpp


def main() -> int:
    signal.alarm(30)
    problems: list[str] = []
    for capacity in (None, 4):
        for label, value in (("large value (memfd)", b"L" * 100_000), ("value holding a Sender", None)):
            tx, rx = mpp.channel() if capacity is None else mpp.sync_channel(capacity)
            carried_tx, carried_rx = mpp.channel()
            first = value if value is not None else ("handle", carried_tx)
            tx.send_timeout(first, 5)
            tx.send_timeout("second", 5)
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            fillers: list[int] = []
            resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
            try:
                while True:
                    try:
                        fillers.append(os.open("/dev/null", os.O_RDONLY))
                    except OSError:
                        break
                try:
                    got = rx.recv_timeout(5)
                    outcome = f"returned {type(got).__name__}"
                except Exception as exc:  # what a user sees
                    outcome = f"raised {type(exc).__name__}: {exc}"
            finally:
                for fd in fillers:
                    os.close(fd)
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            after = rx.recv_timeout(5)
            kind = "unbounded" if capacity is None else f"bounded({capacity})"
            if after == "second":
                problems.append(
                    f"{kind}, {label}: recv at EMFILE {outcome}; the next recv returned 'second': "
                    "the first message is lost"
                )
            for h in (tx, rx, carried_tx, carried_rx):
                h.close()
    for p in problems:
        print("PROBLEM:", p)
    if not problems:
        print("ok: no message lost at EMFILE")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
