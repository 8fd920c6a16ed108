"""Finding 01: a send raises a raw OSError (ETOOMANYREFS) once ~RLIMIT_NOFILE fds are in flight.

Every large value (> 64 KiB) travels as a memfd (SCM_RIGHTS), every rendezvous offer as two pipe
fds, every handle inside a message as its fds. The kernel refuses a sendmsg with SCM_RIGHTS once
the *user's* fds in flight exceed the sender's RLIMIT_NOFILE (too_many_unix_fds(); root with
CAP_SYS_ADMIN/CAP_SYS_RESOURCE is exempt, which is why a root test run never sees it). So for an
ordinary user (ulimit -n 1024 is the common default):

  A. an unbounded channel whose consumer is behind by ~1000 large values: `send` raises
     OSError(109, 'Too many references') - neither SendError nor a wait;
  B. a rendezvous channel whose receiver is busy: each `send_timeout` that times out leaves its
     withdrawn offer (2 fds) in the socket, and after ~500 of them `send_timeout` raises OSError
     instead of Timeout;
  C. a bounded(4096) channel (capacity well within MAX_CAPACITY) full of large values: the same
     OSError, although the docs say a send on a bounded channel waits while it is full.

The scenario runs in a forked child that drops root (setuid nobody) and sets ulimit -n 1024, i.e.
as an ordinary user would run it. Exit status 1 when the problem shows.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import mpsc
import mpsc.process as mpp

LIMIT = 1024
PAYLOAD = b"x" * (65 * 1024 + 1)  # just over INLINE_MAX: travels as a memfd


def as_ordinary_user() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def scenario_a() -> str | None:
    tx, rx = mpp.channel()
    for i in range(3 * LIMIT):
        try:
            tx.send_timeout(PAYLOAD, 0.5)
        except mpsc.Timeout:
            return None  # (fixed: the send waits, as on a full channel, and times out)
        except mpsc.ChannelError as exc:
            return f"A: unexpected {type(exc).__name__}"
        except OSError as exc:
            return f"A: unbounded send #{i} of a large value raised {exc!r} (consumer not reading yet)"
    return None


def scenario_b() -> str | None:
    tx, rx = mpp.sync_channel(0)
    for i in range(3 * LIMIT):
        try:
            tx.send_timeout(i, 0.0)
        except mpsc.Timeout:
            continue
        except OSError as exc:
            return f"A rendezvous send_timeout #{i} raised {exc!r} instead of Timeout (receiver busy)"
    return None


def scenario_c() -> str | None:
    tx, rx = mpp.sync_channel(4 * LIMIT)
    for i in range(4 * LIMIT):
        try:
            tx.send_timeout(PAYLOAD, 0.5)
        except mpsc.Timeout:
            return None  # (fixed: the send waits, as on a full channel, and times out)
        except mpsc.ChannelError as exc:
            return f"C: unexpected {type(exc).__name__}"
        except OSError as exc:
            return f"C: bounded({4 * LIMIT}) send #{i} (room left: {4 * LIMIT - i}) raised {exc!r}"
    return None


def run_in_child(fn) -> str | None:  # type: ignore[no-untyped-def]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            signal.alarm(40)
            as_ordinary_user()
            problem = fn()
            os.write(w, (problem or "").encode())
        except BaseException as exc:  # report anything
            os.write(w, f"child crashed: {exc!r}".encode())
            code = 2
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    if os.waitstatus_to_exitcode(status) not in (0,) and not text:
        text = f"child ended with status {status}"
    return text or None


def main() -> int:
    signal.alarm(55)
    problems = [
        p for p in (run_in_child(scenario_a), run_in_child(scenario_b), run_in_child(scenario_c)) if p
    ]
    for p in problems:
        print("PROBLEM:", p)
    if not problems:
        print("ok: no OSError from sends with many fds in flight")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
