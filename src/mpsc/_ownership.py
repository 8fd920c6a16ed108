"""Who owns a channel: each Sender and Receiver handle is one owner of its side.

A handle's ``_chan`` is its channel while it is open, and one of two markers once it is not:
``CLOSED`` after ``close()`` (or the end of its ``with`` block), ``MOVED`` after ``spawn`` moved
it into a thread. The markers raise ``ClosedHandleError`` from any attribute, so the hot paths
need no check of their own; :func:`is_open` is the one test everything else uses.

A channel counts the open handles of each side (``Chan.senders``, ``Chan.receivers``); the last
one released disconnects that side (``Chan.release_locked``). Counting and marking happen
together, under the channel's lock, with no check point between them (see ``_interrupts``), so
a count never disagrees with the handles: a clone is counted only once the new handle holds the
channel, a close uncounts only the handle it marks, a move hands the count from one handle to
the other. A handle that is garbage-collected without ``close()`` is released by its finalizer,
as Rust drops it; when that finalizer runs while its thread holds the channel's lock, the
*reaper* thread releases it instead.
"""

from __future__ import annotations

import os
from queue import SimpleQueue
from threading import Lock, Thread
from types import TracebackType
from typing import Any, Final, Self, TypeVar

from ._core import SENDERS, Chan
from ._errors import ClosedHandleError
from ._interrupts import finish, nothing

H = TypeVar("H")


class _Closed:
    """Stands where a closed handle's channel was: touching it raises ClosedHandleError.

    Handles read ``self._chan`` on every call; swapping in this object on close makes every
    later use fail clearly without a check on the fast path.
    """

    __slots__ = ("_message",)

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise ClosedHandleError(self._message)

    def __repr__(self) -> str:
        return "<closed>"


CLOSED: Final[Any] = _Closed(
    "this handle is closed: close() (or the end of its with-block) released it; "
    "clone() a handle first to keep using the channel"
)
MOVED: Final[Any] = _Closed(
    "this handle was moved into a thread by mpsc.spawn(), which closes it when the thread "
    "ends; clone() it before spawning to keep one here"
)


def is_open(handle: Any, chan: Chan[Any]) -> bool:
    """Whether ``handle`` is still an open handle of ``chan``."""
    return handle._chan is chan


def is_closed_marker(chan: object) -> bool:
    """Whether a handle's ``_chan`` says it is closed or moved."""
    return isinstance(chan, _Closed)


def closed_error(handle: Any) -> ClosedHandleError:
    """The error for using ``handle`` after it was closed or moved."""
    chan = handle._chan
    message = chan._message if isinstance(chan, _Closed) else CLOSED._message
    return ClosedHandleError(message)


def open_channel(handle: Any) -> Chan[Any]:
    """``handle``'s channel; ClosedHandleError if it is closed or moved."""
    chan = handle._chan
    if isinstance(chan, _Closed):
        raise closed_error(handle)
    return chan  # type: ignore[no-any-return]


def clone(handle: H, side: int) -> H:
    """A new handle of the same side and channel as ``handle``, counted as one more owner."""
    return new_owner(type(handle), open_channel(handle), side, handle)


def new_owner(cls: type[H], chan: Chan[Any], side: int, source: Any = None) -> H:
    """A new handle of class ``cls`` on ``chan``, counted as one more owner of ``side``; with
    ``source``, only while that handle is still open (a clone of it)."""
    new = object.__new__(cls)  # no channel yet: its finalizer releases nothing
    try:
        with chan.lock:
            if source is not None and source._chan is not chan:  # closed concurrently
                raise closed_error(source)
            if side == SENDERS:
                chan.senders += 1
            else:
                chan.receivers += 1
            new._chan = chan  # type: ignore[attr-defined]
    except BaseException as exc:
        if getattr(new, "_chan", None) is not chan:
            raise
        try:  # (leaving the lock) the new handle exists
            return finish(new, nothing, None, exc)
        except BaseException as again:  # as finish() started
            return finish(new, nothing, None, again)
    return new


def move(handle: H) -> H:
    """A new handle that takes over ``handle``'s ownership; ``handle`` becomes unusable."""
    chan = open_channel(handle)
    new = object.__new__(type(handle))
    try:
        with chan.lock:
            if handle._chan is not chan:  # type: ignore[attr-defined]
                raise closed_error(handle)
            new._chan, handle._chan = chan, MOVED  # type: ignore[attr-defined]
            # A call blocked through the moved handle (in another thread) fails as it would
            # had the handle been closed: the handle is no longer the caller's.
            chan.wake_through_locked(handle)
    except BaseException as exc:
        if getattr(new, "_chan", None) is not chan:
            raise
        try:
            return finish(new, _wake_through, (chan, handle), exc)
        except BaseException as again:  # as finish() started
            return finish(new, _wake_through, (chan, handle), again)
    return new


def _wake_through(args: tuple[Chan[Any], Any]) -> None:
    chan, handle = args
    with chan.lock:
        chan.wake_through_locked(handle)


def unmove(original: Any, moved: Any) -> None:
    """Undo ``move``: ``original`` owns its side again, ``moved`` nothing."""
    original._chan, moved._chan = moved._chan, MOVED


def release(handle: Any, side: int) -> None:
    """Release ``handle`` (close): the last one of a side disconnects the channel. Idempotent."""
    chan = handle._chan
    if isinstance(chan, _Closed):
        return
    try:
        with chan.lock:
            dropped = chan.release_locked(side, handle, CLOSED)
        del dropped  # released here, outside the lock
    except BaseException as exc:
        if handle._chan is chan or handle._chan is MOVED:  # not released by this call
            raise
        # Marked and counted: finish waking whoever the release concerns, and raise after.
        try:
            finish(None, chan.settle_after_release, handle, exc)
        except BaseException as again:  # as finish() started
            finish(None, chan.settle_after_release, handle, again)


def release_collected(handle: Any) -> None:
    """Release a handle that is being garbage-collected without ``close()``.

    The collector may run while this very thread holds the channel's lock (a collection can
    start at any allocation), so never wait for it here: if it is taken, the reaper thread
    releases the handle instead. So it does when an exception (a signal handler's) lands here
    before the handle is counted gone: the reaper, a thread of its own, meets no signal
    handler. One that lands after is raised once the finalizer has returned, rather than be
    reported and dropped by CPython as an exception in a finalizer is.
    """
    chan = handle._chan
    lock = chan.lock
    # Taken and released with no check point after either, so that whatever lands is handled.
    unlock = map(type(lock).release, (lock,))
    for got in map(lock.acquire, (False,)):
        break
    if not got:
        _reaper.release_later(handle)
        return
    try:
        dropped = chan.release_locked(handle._side, handle, CLOSED)
    except BaseException as exc:
        for _ in unlock:
            break
        if handle._chan is chan:  # landed before the handle was counted gone
            try:
                release_after(handle, exc)
            except BaseException as again:  # as release_after() started
                release_after(handle, again)
        else:  # counted: finish waking whoever the release concerns
            try:
                finish(None, chan.settle_after_release, handle, exc)
            except BaseException as again:  # as finish() started
                finish(None, chan.settle_after_release, handle, again)
        return
    for _ in unlock:
        break
    del dropped


def release_after(handle: Any, exc: BaseException) -> None:
    """``exc`` landed in a collected handle's finalizer before the handle was counted gone: the
    reaper releases it, and ``exc`` is raised after the finalizer."""
    if isinstance(getattr(handle, "_chan", None), Chan):
        _reaper.release_later(handle)
    try:
        finish(None, nothing, None, exc)
    except BaseException as again:  # as finish() started
        finish(None, nothing, None, again)


class _Reaper:
    """Releases garbage-collected handles that could not be released where they were collected:
    their channel's lock was held then (by the collecting thread itself, maybe), or an exception
    cut the release short.

    One daemon thread for the whole process, started the first time it is needed (rarely).
    """

    def __init__(self) -> None:
        self._queue: SimpleQueue[Any] = SimpleQueue()
        self._lock = Lock()
        self._thread: Thread | None = None

    def release_later(self, handle: Any) -> None:
        self._queue.put(handle)  # (it keeps the handle alive until then)
        # Never wait for _lock: making and starting the Thread allocates, so a collection may
        # run while it is held and call this again in the same thread. Whoever holds it
        # starts the thread, which then finds everything queued so far.
        if self._thread is None and self._lock.acquire(False):
            try:
                if self._thread is None:
                    thread = Thread(target=self._run, name="mpsc-reaper", daemon=True)
                    thread.start()
                    self._thread = thread
            finally:
                self._lock.release()

    def _run(self) -> None:
        while True:
            handle = self._queue.get()
            chan = handle._chan
            if isinstance(chan, Chan):  # (not released meanwhile)
                with chan.lock:
                    dropped = chan.release_locked(handle._side, handle, CLOSED)
                del dropped
            del handle, chan


_reaper = _Reaper()


def _new_reaper_in_child() -> None:
    global _reaper
    old, _reaper = _reaper, _Reaper()
    # Releases the parent had queued and not done are this process's to do too.
    while not old._queue.empty():
        _reaper.release_later(old._queue.get())


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_reaper_in_child)


class Scoped:
    """What every handle (a thread channel's or a process channel's) does with its ownership:
    ``with`` and ``async with`` (open on entry, closed on exit, whatever ended the block), and
    a move into another owner (``mpsc.spawn``)."""

    __slots__ = ()

    def _check_open(self) -> object:
        """Raise ``ClosedHandleError`` if the handle is closed."""
        raise NotImplementedError

    def close(self) -> None:
        """Release this handle."""
        raise NotImplementedError

    def _moved(self) -> Self:
        """A new handle that takes over this one's ownership; this one becomes unusable. An
        exception raised here means nothing moved."""
        raise NotImplementedError

    def _unmoved(self, moved: Self) -> None:
        """Undo ``_moved``: this handle owns its side again, ``moved`` nothing."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._check_open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        self._check_open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
