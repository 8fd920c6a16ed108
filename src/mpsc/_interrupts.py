"""What mpsc does when an exception lands in the middle of one of its calls.

CPython runs signal handlers (so raises ``KeyboardInterrupt``, or whatever a handler raises)
and raises asynchronous exceptions only at *check points*: when a function starts, when a call
returns, at the back edge of a loop, and inside blocking C calls such as ``Lock.acquire``.
Nothing else a Python function does can be cut short. mpsc uses that in two ways:

* **Bursts.** A hand-off that changes several things (claim a waiter, take a value, return a
  permit, wake the sleeper, leave the queue) is written with operations that are not check
  points — ``list += (x,)``, ``del q[0]``, attribute stores, and ``for v in it: break`` over a
  ``map`` of a C function (``map(deque.popleft, repeat(buf))`` pops a value straight into a
  variable) — so that it happens entirely or not at all.
* **Delivery after the return.** Where a check point has to follow the moment a call takes
  effect (a parked peer must be woken by code that takes the channel's lock), an exception that
  lands there is caught, the work is finished, and the exception is raised again only once the
  call has returned its result: :data:`DEFER` arms it as an asynchronous exception of this
  thread, which CPython raises at the caller's next check point, after the caller has stored
  the result. Used as::

      defer(exc)
      for _ in DEFER:
          return result

  Neither the loop nor the return is a check point, and every mpsc function between this one
  and the user's code returns what it is given directly, so the exception is raised in the
  user's frame. It is the same exception object, with its traceback.

An operation therefore either did not happen (the exception propagates, the channel is as it
was) or happened and returns its result (the exception is raised right after).
"""

from __future__ import annotations

import sys
import threading
from _thread import get_ident
from collections.abc import Callable, Iterator
from itertools import repeat, starmap
from operator import attrgetter
from time import monotonic, sleep
from types import CodeType
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")

_deferred = threading.local()
"""``exc``: the exception this thread has deferred, until CPython raises it; ``cls``: the class
it is raised as (see ``_raised_as``)."""


def _give_back(cls: type[BaseException], *args: object) -> BaseException:
    """``__new__`` of the class a deferred exception is raised as: CPython instantiates that
    class when it raises the asynchronous exception, and gets the deferred exception itself."""
    if args and isinstance(args[0], BaseException):
        # 3.11 normalizes the exception once more, passing what the first call returned.
        return args[0]
    exc: BaseException | None = getattr(_deferred, "exc", None)
    _deferred.exc = None
    return exc if exc is not None else RuntimeError("mpsc: no deferred exception to raise")


_classes: dict[type[BaseException], type[BaseException]] = {}


def _raised_as(exc: BaseException) -> type[BaseException]:
    """The class to raise ``exc`` as: a subclass of its own class (3.11 keeps the class it was
    raised as beside the instance, and C code such as asyncio's tasks looks at that class: a
    KeyboardInterrupt must still look like one), whose instantiation gives ``exc`` back."""
    kind = type(exc)
    cls = _classes.get(kind)
    if cls is None:
        try:
            cls = type(kind.__name__, (kind,), {"__new__": _give_back, "__module__": kind.__module__})
        except TypeError:  # a class that cannot be subclassed: a plain stand-in
            cls = type("Deferred", (BaseException,), {"__new__": _give_back})
        _classes[kind] = cls
    return cls


def defer(exc: BaseException) -> None:
    """Get ``exc`` ready to be raised by the next step of ``DEFER``."""
    if _UNSTARTED:
        _wait_started()
    _deferred.cls = _raised_as(exc)
    _deferred.exc = exc


_UNSTARTED: dict[Any, Any] | None = getattr(threading, "_limbo", None) if sys.version_info < (3, 12) else None
"""On CPython 3.11, the threads started and not yet running: each still carries the ident of the
thread that started it, and ``PyThreadState_SetAsyncExc`` would arm the newest of the two —
the new thread, which would die of the exception meant for its creator (review 12/10)."""


_SEEN: WeakKeyDictionary[Any, float] = WeakKeyDictionary()
"""When a deferral first waited for each thread still unstarted: a thread is waited for at most
``limit`` seconds in all, however many deferrals (or restarts of one, as interrupts land in the
wait) look at it — a start interrupted between entering ``_limbo`` and starting the thread leaves
it there for good (review 13/07, 13/09)."""


def _wait_started(limit: float = 0.05) -> None:
    """Wait until every thread started is running (then no thread state but this thread's
    carries its ident), each for at most ``limit`` seconds in all."""
    while True:  # (not ``while <condition>``: see ``mpsc._ops.recorded``)
        now = monotonic()
        waiting = False
        for thread in tuple(_UNSTARTED or ()):
            if now - _SEEN.setdefault(thread, now) < limit:
                waiting = True
        if not waiting:
            break
        sleep(0.0001)


def _raise_now(_: object, __: object) -> None:
    """Where asynchronous exceptions cannot be set (no ctypes): raise at once, in mpsc's frame."""
    exc: BaseException | None = _deferred.exc
    _deferred.exc = None
    if exc is not None:
        raise exc


def _arming() -> Iterator[object]:
    # Every step of next() is C code: no check point between it and the caller's return.
    thread = starmap(get_ident, repeat(()))
    cls = map(attrgetter("cls"), repeat(_deferred))
    try:
        import ctypes

        set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
    except (ImportError, AttributeError):  # not CPython, or built without ctypes
        return map(_raise_now, thread, cls)
    set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
    set_async_exc.restype = ctypes.c_int
    return map(set_async_exc, thread, cls)


DEFER: Iterator[object] = _arming()
"""An endless iterator: each step arms the exception ``defer`` got ready, to be raised in this
thread at its next check point. Step it with ``for _ in DEFER: return result`` (see the module
docstring)."""


def complete(step: Callable[[T], object], arg: T, exc: BaseException) -> BaseException:
    """Run ``step(arg)`` to completion although ``exc`` landed; return the exception to raise.

    ``step`` must be restartable (each run goes on from the state the last one left). Another
    exception landing meanwhile replaces ``exc`` (which Python keeps as its ``__context__``) and
    the step runs again. Each call into it sits inside a ``try``, so that one landing as the
    call starts is caught too.
    """
    try:
        step(arg)
        return exc
    except BaseException as landed:
        exc = landed
    try:
        return complete(step, arg, exc)
    except BaseException as landed:
        exc = landed
    try:
        return complete(step, arg, exc)
    except BaseException as landed:
        exc = landed
    return complete(step, arg, exc)


def nothing(_: object) -> None:
    """A step with nothing left to do, for ``finish``."""


def finish(result: T, step: Callable[[Any], object], arg: object, exc: BaseException) -> T:
    """After the operation took effect and ``exc`` landed: finish ``step(arg)``, then return
    ``result`` with the exception armed to be raised right after (see the module docstring).

    Another exception landing meanwhile replaces ``exc``, as in ``complete``, and the work is
    done again. The one place left open is the call's own start: callers catch what lands
    there and call again.
    """
    try:
        exc = complete(step, arg, exc)
        defer(exc)
    except BaseException as landed:
        exc = landed
    else:
        for _ in DEFER:
            return result
    try:
        return finish(result, step, arg, exc)
    except BaseException as landed:
        exc = landed
    try:
        return finish(result, step, arg, exc)
    except BaseException as landed:
        exc = landed
    return finish(result, step, arg, exc)


def came_through(exc: BaseException, code: CodeType) -> bool:
    """Whether ``exc`` came out of a call of the function whose code is ``code`` (its
    traceback passes through such a frame). Where mpsc's own code runs inside a call that also
    runs the user's (a carried handle's adoption inside ``pickle.loads``), an exception that came
    through mpsc's part landed there, whatever its class: a signal handler may raise an
    ``Exception`` as well as a ``KeyboardInterrupt``, and it is no error of the user's value."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


def settle_and_raise_after(chan: Any, exc: BaseException) -> None:
    """For the C select pass: ``exc`` landed while it settled ``chan`` after an operation took
    effect; settle to the end and arm the exception, which CPython raises once the select has
    returned to Python code (see ``_accel.c``, which calls again if another lands as this
    starts)."""
    finish(None, type(chan).settle, chan, exc)
