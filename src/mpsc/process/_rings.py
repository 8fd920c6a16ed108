"""Whether this process has the shared-memory ring (``_ring.c``) for unbounded process channels.

An unbounded channel made where the ring is (the extension built, ``MPSC_PURE`` not set) carries
its small messages through a ring of records in a memfd that every process of the channel maps,
under a robust process-shared lock, instead of one datagram each; the socket carries the rest
(large values, handles), in step with the ring (see ``_ring.c``), and the wake-ups. Such a
channel's handles cannot be used in a process without the ring: they are refused, clearly, as
they arrive. The repository's DESIGN.md (§10) says how it keeps the process channels' rules.
"""

from __future__ import annotations

import importlib
import os
from asyncio import _get_running_loop
from types import ModuleType
from typing import Final

RING: ModuleType | None
if os.environ.get("MPSC_PURE"):
    RING = None
else:
    try:
        RING = importlib.import_module("mpsc.process._ring")
    except ImportError:
        RING = None


class _NeverRaised(Exception):
    """Stands for ``_ring.Busy`` where there is no ring (nothing raises it)."""


BUSY: type[Exception] = _NeverRaised if RING is None else RING.Busy
"""What a ring's method raises when its lock's holder does not run now (``ring_lock`` in
``_ring.c``): a class of its own, never a handler's ``TimeoutError`` taken for it."""


def may_wait() -> bool:
    """Whether a ring's lock may be waited for here (``wait``, see ``ring_lock``): not on an
    event loop's thread, which must not be held (its call then waits on the loop, for a timer)."""
    return _get_running_loop() is None


RING_SIZE: Final = 1 << 18
"""Bytes of records a channel's ring holds (a small message takes 48)."""

MARKED_WHEN_FULL: Final = RING_SIZE // 64
"""A message longer than this (bytes) for which the ring has no room goes as a marked datagram
through the socket's buffer; a shorter one waits for room (``_ring.h``: ``marked_when_full``)."""

LOOK_EVERY: Final = 0.001
"""How often (seconds) a sender that only pushes asks the kernel whether every receiver is gone
(a receiver's close tells it at once; a killed receiver only this way)."""

MISSING: Final = (
    "mpsc.process: this handle's channel was made with the shared-memory ring, which this process "
    "does not have (MPSC_PURE is set, or the extension mpsc.process._ring was not built)"
)
