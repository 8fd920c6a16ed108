"""What a forked child does with the channels it inherited from its parent.

``fork`` copies the whole process but only the thread that called it. In the child, a channel's
lock may be held by a parent thread that does not exist there (it would never be released), and
its wait queues may hold operations of parent threads (a value handed to one of them would be
lost). So the child, before it runs anything else, makes every channel's lock new and keeps in
the queues only the operations of the thread that forked (its asyncio or trio tasks, which live
on in the child). Handles, counts and buffered messages are the parent's, copied: a channel
whose every handle is dropped in the child is released there. Other module-level state (the
reaper thread, select's random draw) resets itself with hooks of its own.
"""

from __future__ import annotations

import os
import weakref
from _thread import get_ident
from typing import Any

registry: weakref.WeakSet[Any] = weakref.WeakSet()
"""Every channel alive in this process (each ``Chan`` adds itself)."""


def _after_fork_in_child() -> None:
    me = get_ident()
    for chan in list(registry):
        chan.lock._at_fork_reinit()
        for queue in (chan.recvq, chan.sendq):
            if queue:
                mine = [entry for entry in queue if entry.waiter.thread == me]
                queue.clear()
                queue.extend(mine)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
