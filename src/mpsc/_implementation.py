"""The one switch between mpsc's two implementations of its hot paths.

The pure-Python methods (``_handles``, ``_buffered``, ``_select``) are the reference: they are
what mpsc does. The compiled module (``_accel.c``), where it was built, does the common cases of
the same steps faster — a send or receive on a buffered channel with nobody parked, a select
with an operation ready — and hands every other case, untouched, to the pure code. ``use``
installs one or the other; at import mpsc uses the compiled one unless ``MPSC_PURE`` is set in
the environment (then the compiled module is not even loaded), or it was not built (no
compiler, another interpreter).

With the compiled implementation, ``Receiver.__next__`` (the iteration slot) is C; ``send``,
``try_send``, ``recv``, ``try_recv`` and the async ``send_async``, ``recv_async`` and
``__anext__`` stay Python functions that reach the C steps without a call — storing
``Sender._sent``, a for loop's step, a subscript of the private ``STEPS`` object — because
a call into C is a point where a signal handler's exception could drop
a value just taken, or make a send that happened look as if it had not; see ``_accel.c``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from . import _select
from ._buffered import Bounded, Unbounded
from ._core import NO_DEQUE, NOTHING, Chan
from ._errors import ChannelError, ClosedHandleError, RecvError, SendError
from ._handles import Receiver, Sender
from ._interrupts import settle_and_raise_after
from ._ops import running_trio

T = TypeVar("T")

_PURE: dict[tuple[type, str], Any] = {
    (cls, name): cls.__dict__[name]
    for cls, names in (
        (Sender, ("send", "try_send", "send_async")),
        (Receiver, ("recv", "try_recv", "recv_async", "__iter__", "__next__", "__anext__")),
    )
    for name in names
}
pure_send = Sender.send
pure_try_send = Sender.try_send
pure_recv = Receiver.recv
pure_try_recv = Receiver.try_recv
pure_send_async = Sender.send_async
pure_recv_async = Receiver.recv_async
pure_anext = Receiver.__anext__


class _Unbuilt(Exception):
    """Stands for ``_accel.Undecided`` where the module was not built (never raised)."""


Undecided: type[Exception] = _Unbuilt


STEPS: Any = None
"""``_accel.Steps()`` while the compiled implementation is installed."""

# The compiled steps are reached without a call (see the top of _accel.c): a store, a subscript,
# a for loop's step. Whatever they leave is done by the pure method, from the start, outside the
# ``except`` (an error it raises must not carry ``Undecided`` as its context).


def _compiled_send(pure: Callable[[Sender[Any], Any], None]) -> Callable[[Sender[Any], Any], None]:
    """``send`` or ``try_send``: the C step, then ``pure`` (the method it stands in front of)
    for whatever the step leaves."""

    def send(self: Sender[T], value: T) -> None:
        try:
            self._sent = value  # type: ignore[attr-defined]
            return
        except Undecided:
            pass
        pure(self, value)

    return send


send = _compiled_send(pure_send)
try_send = _compiled_send(pure_try_send)


def recv(self: Receiver[T]) -> T:
    if self.__class__ is not Receiver:  # a subclass's own __iter__/__next__ must not change recv
        return pure_recv(self)
    for value in self:  # Receiver.__next__ in C, which waits through the pure one if it must
        return value
    raise RecvError() from None  # the iteration ended: every sender gone, everything received


def try_recv(self: Receiver[T]) -> T:
    value = STEPS[self]
    if value is NOTHING:
        return pure_try_recv(self)
    return value  # type: ignore[no-any-return]


# The async methods take the same steps when they can complete at once: no await before them,
# so a cancellation cannot land between the step and the return. In a trio task every async
# operation must be a checkpoint, which the pure methods make: they take it from the start.


async def send_async(self: Sender[T], value: T) -> None:
    if running_trio() is None:
        try:
            self._sent = value  # type: ignore[attr-defined]
            return
        except Undecided:
            pass
    await pure_send_async(self, value)


async def recv_async(self: Receiver[T]) -> T:
    if running_trio() is None:
        value = STEPS[self]
        if value is not NOTHING:
            return value  # type: ignore[no-any-return]
    return await pure_recv_async(self)


async def async_next(self: Receiver[T]) -> T:
    if running_trio() is None:
        value = STEPS[self]
        if value is not NOTHING:
            return value  # type: ignore[no-any-return]
    return await pure_anext(self)


COMPILED_METHODS: dict[tuple[type, str], Any] = {
    (Sender, "send"): send,
    (Sender, "try_send"): try_send,
    (Sender, "send_async"): send_async,
    (Receiver, "recv"): recv,
    (Receiver, "try_recv"): try_recv,
    (Receiver, "recv_async"): recv_async,
    (Receiver, "__anext__"): async_next,
}
for (_cls, _name), _method in COMPILED_METHODS.items():
    _method.__doc__ = _PURE[_cls, _name].__doc__
    _method.__qualname__ = f"{_cls.__name__}.{_name}"


def _load() -> ModuleType | None:
    """The compiled module, set up with the pure classes; None where it cannot be used, or
    where ``MPSC_PURE`` asks for the pure implementation alone."""
    if os.environ.get("MPSC_PURE"):
        return None
    try:
        from . import _accel
    except ImportError:  # not built: no compiler, or not CPython
        return None
    if not _accel.setup(
        Receiver,
        Sender,
        Chan,
        Unbounded,
        Bounded,
        ChannelError,
        RecvError,
        SendError,
        ClosedHandleError,
        NOTHING,
        settle_and_raise_after,
        NO_DEQUE,
    ):  # a second interpreter: the module holds the first one's classes
        return None

    def reseed() -> None:  # at import, and in a forked child (else it draws as its parent)
        _accel.seed(int.from_bytes(os.urandom(8)))

    reseed()
    os.register_at_fork(after_in_child=reseed)
    return _accel


COMPILED: ModuleType | None = _load()
"""``mpsc._accel`` where it was built and can be used here, else None."""


def use(compiled: bool) -> None:
    """Install the compiled implementation (``compiled=True``; ``RuntimeError`` where it was
    not built) or the pure one. Not to be called while other threads use mpsc."""
    global Undecided, STEPS
    if compiled:
        if COMPILED is None:
            raise RuntimeError("mpsc's compiled module (_accel) was not built here")
        Undecided = COMPILED.Undecided
        STEPS = COMPILED.Steps()
        COMPILED.install(Sender, Receiver, _PURE[Receiver, "__next__"])
        for (cls, name), method in COMPILED_METHODS.items():
            setattr(cls, name, method)
        _select.PASS = COMPILED.SelectPass()
        return
    for (cls, name), method in _PURE.items():
        setattr(cls, name, method)
    if "_sent" in Sender.__dict__:
        del Sender._sent  # type: ignore[attr-defined]
    _select.PASS = None


def in_use() -> str:
    """Which implementation is installed: ``"compiled"`` or ``"pure"``."""
    return "compiled" if "_sent" in Sender.__dict__ else "pure"


use(COMPILED is not None)
