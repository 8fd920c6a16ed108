"""Finding 06: an interrupt in `close()` (e.g. Ctrl-C at the end of a `with` block) can keep the
handle's lease alive for the life of the process - the other side never sees the disconnection -
or, for a receiver, have the values it already returned delivered again to another receiver.

Promises: `close()`: "Release this handle: its lease ends at once on the server ... Releasing the
last Sender lets receivers drain and then see ``RecvError``"; DESIGN §4.7: "whatever exception
arrives ... either the call did not happen or its result reaches the caller; no waiter is left
that nobody wakes"; mpsc.redis: "*Exactly once while nobody dies*".

What happens (`_Handle.close`): it first detaches the handle's finalizer, then clears the buffer,
then `Lease.release` sets `closed` and drops the lease from the renewal thread. An interrupt
after `detach()` and before `release()` drops the lease from nobody: the finalizer is gone (so
collecting the handle releases nothing) and the renewal thread keeps renewing the lease for as
long as the process lives. The peer's `recv()` never gets RecvError (its `send()` never gets
SendError).
And an interrupt during the CLOSE round trip of a receiver: `release` had already taken the
acknowledgements of the entries the receiver returned (unbounded channels acknowledge lazily);
they are dropped, the lease expires a lease later, and those entries - already returned to the
caller - are claimed by another receiver: duplicates, though nobody died.

The script uses the project's SignalInjector (tests/checkpoints.py): one KeyboardInterrupt at the
n-th check point of `close()`, for the first check points (A) and along the receiver's whole
close (B, its first 40 points; measured: 202 of 307 points along the whole close
duplicate). Exit 1 when the problem shows.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from _srv import server

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from checkpoints import SignalInjector  # noqa: E402

import mpsc  # noqa: E402
import mpsc.redis as mr  # noqa: E402


def sender_side(url: str) -> list[str]:
    bad = []
    for n in range(1, 12):
        tx, rx = mr.channel(url, lease=0.2)
        inj = SignalInjector(n, 10**9)
        inj.call(tx.close)
        fired, where = inj.fired, inj.where
        del tx, inj
        gc.collect()  # the handle is gone: whatever it held must be released now
        if fired:
            try:
                rx.recv_timeout(3.0)
            except mpsc.RecvError:
                pass
            except mpsc.Timeout:
                bad.append(
                    f"interrupt at check point {n} of Sender.close() ({where.strip()}): the Sender is closed and "
                    "collected, the lease is 0.2 s, and 3 s later the Receiver still waits (no RecvError)"
                )
        rx.close()
    return bad


def receiver_side(url: str) -> list[str]:
    dups = []
    n = 0
    while True:
        n += 1
        tx, rx = mr.channel(url, lease=0.3)
        rx2 = rx.clone()
        for i in range(3):
            tx.send(i)
        returned = [rx.recv() for _ in range(3)]
        inj = SignalInjector(n, 10**9)
        inj.call(rx.close)
        fired, where = inj.fired, inj.where
        tx.close()
        again = []
        try:
            while True:
                again.append(rx2.recv_timeout(3.0))
        except (mpsc.RecvError, mpsc.Timeout):
            pass
        rx2.close()
        if not fired or n >= 40:  # (the first 40 points are enough; the rest of the CLOSE call is alike)
            break
        if again:
            dups.append((n, where.strip(), returned, again))
    if dups:
        total = n - 1
        n, where, returned, again = dups[0]
        return [
            f"{len(dups)} of {total} check points of Receiver.close(): values the closed receiver had returned "
            f"({returned}) were delivered again to its clone ({again}), e.g. at point {n} ({where})"
        ]
    return []


def main() -> int:
    srv = server()
    bad = sender_side(srv.url) + receiver_side(srv.url)
    for b in bad:
        print("FAIL:", b)
    if not bad:
        print("ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
