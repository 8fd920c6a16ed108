"""What a forked child does with the channels it inherited from its parent.

``fork`` copies the whole process but only the thread that called it. In the child, a channel's
lock may be held by a parent thread that does not exist there (it would never be released), and
its wait queues may hold operations of parent threads (a value handed to one of them would be
lost). So the child, before it runs anything else, makes every channel's lock new and keeps in
the queues only the operations of the thread that forked (its asyncio or trio tasks, which live
on in the child). Handles, counts and buffered messages are the parent's, copied: a channel
whose every handle is dropped in the child is released there. Other module-level state (the
reaper thread, select's random draw) resets itself with hooks of its own.

The channels are found through weak references without callbacks: a callback is Python code
run wherever a channel dies, and a signal handler's exception landing there would be reported
and dropped by CPython (a WeakSet has such callbacks). Dead references are pruned as the list
grows, so it stays within twice the number of live channels.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock, get_ident
from typing import Any
from weakref import ReferenceType, ref

_channels: list[ReferenceType[Any]] = []
_lock = allocate_lock()
_prune_at = 64


def register(chan: object) -> None:
    """Remember ``chan`` (a new channel) for a forked child."""
    global _prune_at
    reference = ref(chan)
    with _lock:
        _channels.append(reference)
        if len(_channels) >= _prune_at:
            _channels[:] = _alive(_channels)
            _prune_at = max(64, 2 * len(_channels))


def _alive(references: list[ReferenceType[Any]]) -> list[ReferenceType[Any]]:
    """The references whose channel lives. A function of its own: on 3.13 a comprehension's
    loop inside the ``with`` could let an exception skip the lock's release."""
    return [r for r in references if r() is not None]


_inherited_trio_root: object = None
"""The root task of the trio run a forked child was made in (its loop never runs again there)."""


def in_trio_run(trio: Any) -> bool:
    """Whether this thread runs a trio loop, ``trio.lowlevel.in_trio_run()`` but for a forked
    child's copy of its parent's run: the child may block (as asyncio's running loop does not
    count in a child either)."""
    if not trio.lowlevel.in_trio_run():
        return False
    return _inherited_trio_root is None or trio.lowlevel.current_root_task() is not _inherited_trio_root


def _after_fork_in_child() -> None:
    global _inherited_trio_root
    _lock._at_fork_reinit()  # type: ignore[attr-defined]
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        _inherited_trio_root = trio.lowlevel.current_root_task()
    me = get_ident()
    for reference in _channels:
        chan = reference()
        if chan is None:
            continue
        chan.lock._at_fork_reinit()
        for queue in (chan.recvq, chan.sendq):
            if queue:  # (never the shared NO_QUEUE, which is empty)
                mine = [e for e in queue if not e.waiter.claims and e.waiter.thread == me]
                queue.clear()
                queue.extend(mine)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
