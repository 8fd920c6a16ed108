"""Finding 07: an exception landing while a received message's handle is being adopted (a)
reaches the caller as RuntimeError("a handle's file descriptors are missing from its message")
instead of the exception that landed (a Ctrl-C becomes a RuntimeError: `except
KeyboardInterrupt` does not catch it), and (b) leaks the handle's fds: a leaked Sender fd keeps
its channel connected for ever, so that channel's receivers never get RecvError.

The message itself being lost is a documented limit ("an interrupt landing while ... its handles
are adopted can make that message count as unreadable"); the swapped exception and the leaked
fds are not.

Cause (code reading): `_travel._from_message` marks the fds taken (-1 in `local.incoming`)
before `adopt()` runs; an exception in `adopt` (the `_joined_lock`/`_joined.get`, `Endpoint()`,
`new_handle`, `endpoint.fds()`, `close_fds` of the duplicates) drops them with no close. Then
`_wire.settle` counts the interrupt as the value's first failure and unpickles again
(`_handles.Receiver._recv`'s except-path: `complete(_wire.settle, ...)`); the second run finds
the -1 and raises RuntimeError, which `complete` returns in place of the interrupt. When the
handle is new to this process, `adopt` makes an Endpoint (registered in `_endpoint._sockets`)
before `new_handle`: interrupted there, that socket stays open for the process's life.

Promise broken: module doc "Interrupts: whatever exception lands in a call (Ctrl-C, a signal
handler's), the call either did not happen (it propagates, the channel is as it was) or happened
and returns its result, the exception raised right after"; README "when every Sender is gone ...
receivers ... get RecvError".

Method: tests/checkpoints.py's SignalInjector raises KeyboardInterrupt at the n-th real check
point of `rx.recv_timeout()` of a message ("h", other_tx) sent from this process.
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from checkpoints import Injected, SignalInjector

import mpsc
import mpsc.process as mpp


def one(n: int) -> tuple[bool, list[str]]:
    tx, rx = mpp.channel()
    other_tx, other_rx = mpp.channel()
    tx.send(("h", other_tx))
    got = []
    inj = SignalInjector(n, 10**9)
    result, exc = inj.call(lambda: got.append(rx.recv_timeout(1)))
    problems = []
    where = inj.where
    if exc is not None and not isinstance(exc, Injected):
        problems.append(
            f"n={n}{where}: the caller got {type(exc).__name__}({exc}) instead of the "
            f"KeyboardInterrupt that landed (its __context__: {exc.__context__!r})"
        )
    for _, h in got:
        h.close()
    other_tx.close()
    tx.close()
    rx.close()  # (a message still queued is dropped with its Sender: the kernel closes it)
    fired = inj.fired
    del inj, result, exc, got
    gc.collect()
    try:
        other_rx.recv_timeout(0.2)
    except mpsc.RecvError:
        pass
    except mpsc.Timeout:
        problems.append(
            f"n={n}{where}: every Sender of the carried channel is closed, yet it stays connected (fds leaked)"
        )
    other_rx.close()
    return fired, problems


def main() -> int:
    signal.alarm(55)
    problems: list[str] = []
    n = 0
    while True:
        n += 1
        fired, found = one(n)
        problems += found
        if not fired or n > 500:
            break
    print(f"{n - 1} check points of a recv of a message holding a Sender tried")
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
