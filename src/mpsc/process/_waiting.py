"""Waiting for file descriptors: the one place a process-channel operation sleeps.

Every blocking call is a loop of a non-blocking attempt and :func:`wait_ready` on the fds that
attempt names, so ``select`` over several channels and asyncio's ``loop.add_reader`` can reuse
the same attempts and fds. A wait is at most ``SLICE`` seconds: a call blocked on a handle that
another thread closes notices within that time (waking it sooner would take an fd per handle).
``poll`` is interrupted by signals, so Ctrl-C reaches a blocked call (PEP 475 retries it when
the handler returns normally).
"""

from __future__ import annotations

import fcntl
import math
import select
import sys
import termios
from collections.abc import Collection
from time import monotonic
from typing import Final

from .._waiters import SPINNING, poll, spin

SLICE: Final = 0.1
_SLICE_MS: Final = int(SLICE * 1000)
CONGESTED_WAIT: Final = 0.01
"""How long a send waits before trying again when nothing can tell it (``_wire.Congested``)."""
_CONGESTED_MS: Final = int(CONGESTED_WAIT * 1000)

READABLE: Final = select.POLLIN
WRITABLE: Final = select.POLLOUT
HANGUP: Final = select.POLLHUP | select.POLLERR


def wait_ready(fds: Collection[tuple[int, int]], deadline: float | None) -> list[tuple[int, int]]:
    """Sleep until one of ``fds`` (pairs of fd and poll events) is ready, ``deadline`` (a
    ``time.monotonic()`` instant, None for none) passes, or ``SLICE`` seconds went by; with no
    fds (nothing tells when to try again: see ``_wire.Congested``), ``CONGESTED_WAIT`` seconds.
    Where other CPUs can run the peer, it first looks without sleeping (``mpsc._waiters.spin``).

    Returns the ready (fd, events) pairs; hang-ups and errors count as ready.
    """
    poller = select.poll()
    slice_ms = _SLICE_MS if fds else _CONGESTED_MS
    for fd, events in fds:
        poller.register(fd, events)
    if fds and SPINNING:
        ready = spin(poller, deadline)
        if ready:
            return ready
    if deadline is None:
        timeout = slice_ms
    else:
        timeout = max(0, min(slice_ms, math.ceil((deadline - monotonic()) * 1000)))
    return poll(poller, timeout)


def hung_up(fd: int) -> bool:
    """Whether ``fd``'s peer is gone now (a hang-up or an error on it)."""
    poller = select.poll()
    poller.register(fd, READABLE)
    return any(events & HANGUP for _, events in poll(poller, 0))


def pipe_bytes(fd: int) -> int:
    """How many bytes wait in the pipe ``fd`` (either end): a bounded channel's free slots."""
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder, signed=True)
