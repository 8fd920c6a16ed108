"""Finding 10: a message whose value fails to unpickle is unpickled twice (its reconstruction code
runs twice, side effects and all), and when the value holds a handle, the error raised is a
misleading RuntimeError("a handle's file descriptors are missing from its message") instead of
the value's own error (which is only its __context__).

Cause: `_wire.settle` (src/mpsc/process/_wire.py, the `except BaseException` around `_decode`)
counts a first failure as possibly an interrupt and re-raises; `Receiver._recv`'s except-path
runs `complete(_wire.settle, ...)`, which unpickles again. For a plain value the second run
raises the same error (after running the code twice). For a value holding a handle, the first
run already adopted the handle's fds (marked -1), so the second run fails in
`_travel._from_message` with RuntimeError, and `complete` returns that one.

Promise broken: Receiver.recv: "A message that cannot be unpickled here is consumed and its
error raised" (the error raised is not the message's error when it holds a handle); pickle's
contract that loading a pickle runs its reconstruction once.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import mpsc.process as mpp

calls = 0


def rebuild() -> None:
    global calls
    calls += 1
    raise ValueError("this value cannot be rebuilt here")


class Fails:
    def __reduce__(self) -> Any:
        return (rebuild, ())


def main() -> int:
    global calls
    signal.alarm(20)
    problems = []
    for label in ("plain value", "value holding a Sender"):
        tx, rx = mpp.channel()
        other_tx, other_rx = mpp.channel()
        calls = 0
        tx.send(Fails() if label == "plain value" else [other_tx, Fails()])
        try:
            rx.recv_timeout(1)
            problems.append(f"{label}: recv returned")
        except Exception as exc:
            if calls != 1:
                problems.append(f"{label}: the value's reconstruction ran {calls} times for one recv")
            if not isinstance(exc, ValueError):
                problems.append(
                    f"{label}: recv raised {type(exc).__name__}({exc}) instead of the value's "
                    f"ValueError (which is its __context__: {exc.__context__!r})"
                )
        for h in (tx, rx, other_tx, other_rx):
            h.close()
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
