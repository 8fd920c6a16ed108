"""The switch between the process channels' two implementations of send and receive.

The pure-Python methods (``_handles``) are the reference. The compiled steps (``_steps.c``),
where they were built and can be used (CPython with a GIL, Linux), do the common case of the
same steps — a buffered channel, a value with no handle inside — with fewer instructions
around the system call, and hand every other case, untouched, to the pure methods. ``use``
installs one or the other; at import the compiled one is used unless ``MPSC_PURE`` is set in the
environment (as for the thread channels, see ``mpsc._implementation``).

The compiled steps are reached without a call, as the thread channels' are: storing
``Sender._sent``, and a subscript of the private ``STEPS`` object (a call into C is a point
where a signal handler's exception could drop a value just received, or make a send that
happened look as if it had not).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any, TypeVar

from .._waiters import SPIN, SPINNING
from . import _endpoint, _handles, _travel, _wire
from ._async import TRIO, running_loop
from ._endpoint import Endpoint
from ._gil import NO_GIL
from ._handles import Receiver, Sender
from ._ledger import ROWS, Ledger
from ._rings import RING

T = TypeVar("T")

NOTHING: Any = _wire.NOTHING

_PURE: dict[tuple[type, str], Any] = {
    (cls, name): cls.__dict__[name]
    for cls, names in (
        (Sender, ("send", "try_send", "send_async")),
        (Receiver, ("recv", "try_recv", "__next__", "recv_async", "__anext__")),
    )
    for name in names
}
pure_recv = Receiver.recv
pure_try_recv = Receiver.try_recv
pure_next = Receiver.__next__
pure_recv_async = Receiver.recv_async
pure_anext = Receiver.__anext__


class _Unbuilt(Exception):
    """Stands for ``_steps.Undecided`` where the module was not built (never raised)."""


Undecided: type[Exception] = _Unbuilt

STEPS: Any = None
"""``_steps.Steps()`` while the compiled implementation is installed."""

WAITING_STEPS: Any = None
"""``_steps.Steps(SPIN)``, for the receives that would wait: an empty ring is looked at for up
to ``SPIN`` first (where other CPUs can run a sender; else ``STEPS``)."""

# Whatever a step leaves is done by the pure method, from the start, outside the ``except`` (an
# error it raises must not carry ``Undecided`` as its context).


def _compiled_send(once: bool) -> Callable[[Sender[Any], Any], None]:
    """``send`` (``once`` false) or ``try_send``: the C step, then the pure send for whatever the
    step leaves (a step never waits, so it serves both), given the value's pickle if the step
    made one (with no handle inside): a value is pickled once (its reducers run once)."""

    def send(self: Sender[T], value: T) -> None:
        try:
            self._sent = value  # type: ignore[attr-defined]
            return
        except Undecided as undecided:
            pickled = undecided.args[0] if undecided.args else None  # (bytes: no fd to lose)
        self._send(value, None, once, pickled)

    return send


def _compiled_recv(pure: Callable[[Receiver[Any]], Any], waits: bool) -> Callable[[Receiver[Any]], Any]:
    """``recv``, ``try_recv`` or ``__next__``: the C step, then ``pure`` if nothing was there.
    (The waiting methods' steps are reached through a subscript too, so two are made.)"""

    def recv(self: Receiver[T]) -> T:
        value = STEPS[self]
        if value is NOTHING:
            return pure(self)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]

    def recv_waiting(self: Receiver[T]) -> T:
        value = WAITING_STEPS[self]
        if value is NOTHING:
            return pure(self)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]

    return recv_waiting if waits else recv


# The async methods take the same steps when they can complete at once: no await before them,
# so a cancellation cannot land between the step and the return. ``running_loop`` first: without
# a loop they raise as the pure ones do; in a trio task every async operation must be a
# checkpoint, which the pure methods make, so they take it from the start.


async def send_async(self: Sender[T], value: T) -> None:
    pickled = None
    if running_loop() is not TRIO:
        try:
            self._sent = value  # type: ignore[attr-defined]
            return
        except Undecided as undecided:
            pickled = undecided.args[0] if undecided.args else None  # (bytes: no fd to lose)
    await self._send_async(value, pickled)


def _compiled_recv_async(pure: Callable[[Receiver[Any]], Any]) -> Callable[[Receiver[Any]], Any]:
    """``recv_async`` or ``__anext__``: the C step, then ``pure`` if nothing was there."""

    async def recv_async(self: Receiver[T]) -> T:
        if running_loop() is not TRIO:
            value = STEPS[self]
            if value is not NOTHING:
                return value  # type: ignore[no-any-return]
        return await pure(self)  # type: ignore[no-any-return]

    return recv_async


COMPILED_METHODS: dict[tuple[type, str], Any] = {
    (Sender, "send"): _compiled_send(False),
    (Sender, "try_send"): _compiled_send(True),
    (Sender, "send_async"): send_async,
    (Receiver, "recv"): _compiled_recv(pure_recv, True),
    (Receiver, "try_recv"): _compiled_recv(pure_try_recv, False),
    (Receiver, "__next__"): _compiled_recv(pure_next, True),
    (Receiver, "recv_async"): _compiled_recv_async(pure_recv_async),
    (Receiver, "__anext__"): _compiled_recv_async(pure_anext),
}
for (_cls, _name), _method in COMPILED_METHODS.items():
    _method.__doc__ = _PURE[_cls, _name].__doc__
    _method.__name__ = _name
    _method.__qualname__ = f"{_cls.__name__}.{_name}"


def _load() -> ModuleType | None:
    """The compiled module, set up; None where it cannot be used (not built, a free-threaded
    build, a second interpreter) or where ``MPSC_PURE`` asks for the pure implementation."""
    if os.environ.get("MPSC_PURE") or NO_GIL:
        return None
    try:
        from . import _steps  # type: ignore[attr-defined]
    except ImportError:  # not built: no compiler, or not CPython
        return None
    if not _steps.setup(
        Sender,
        Receiver,
        Endpoint,
        Ledger,
        ROWS,
        NOTHING,
        _travel.local,
        _handles._finish_taken,
        _wire.INLINE_MAX,
        None if RING is None else RING.Ring,
        _endpoint._noted,
    ):
        return None
    return _steps  # type: ignore[no-any-return]


COMPILED: ModuleType | None = _load()
"""``mpsc.process._steps`` where it was built and can be used here, else None."""


def use(compiled: bool) -> None:
    """Install the compiled implementation (``compiled=True``; ``RuntimeError`` where it was
    not built) or the pure one. Not to be called while other threads use process channels."""
    global Undecided, STEPS, WAITING_STEPS
    if compiled:
        if COMPILED is None:
            raise RuntimeError("mpsc.process's compiled steps (_steps) are not built or usable here")
        Undecided = COMPILED.Undecided
        STEPS = COMPILED.Steps()
        WAITING_STEPS = COMPILED.Steps(SPIN if SPINNING else 0.0)
        COMPILED.install(Sender)
        for (cls, name), method in COMPILED_METHODS.items():
            setattr(cls, name, method)
        return
    for (cls, name), method in _PURE.items():
        setattr(cls, name, method)
    if "_sent" in Sender.__dict__:
        del Sender._sent  # type: ignore[attr-defined]


def in_use() -> str:
    """Which implementation is installed: ``"compiled"`` or ``"pure"``."""
    return "compiled" if "_sent" in Sender.__dict__ else "pure"


use(COMPILED is not None)
