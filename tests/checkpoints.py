"""Raise an exception at the n-th point where CPython would run a signal handler, inside one call.

CPython raises a signal handler's exception (and any asynchronous exception) only at *check
points*: when a function starts, right after a call into C code returns, at the back edge of a
loop, and inside a blocking C call such as ``Lock.acquire``. :class:`Injector` follows the
calling thread with a trace function and raises at the n-th of them inside mpsc — in its
frames and in those it calls (threading's, say; not asyncio's, which is not safe against an
exception landing in it, see _LOOPS) — emulating each faithfully:

* a function start: at its ``call`` event, before its first instruction; and a generator's
  resumption after ``yield``. A coroutine resumed after ``await`` checks nothing, but the
  innermost one — mpsc's waiters awaiting their future — is where a thrown exception (a
  cancellation, or ``coro.throw``) lands, and that resumption counts too;
* the end of a call into C: before the instruction that follows a ``CALL`` during which no
  Python frame ran (after a call of a Python function CPython checks nothing: the callee's own
  start is the check point);
* a loop's back edge: at the ``JUMP_BACKWARD`` itself, which lies outside the ``try`` of the
  loop body, as the real check does;
* a blocking acquire: before ``BEFORE_WITH`` (a ``with lock:``), and before every call in
  ``ThreadWaiter.sleep`` (the park), as if the acquire had been interrupted before taking it.

The caller's own frames are not mpsc's: where a C function returns to the caller, the check
point after it is Python's window, in the caller, as for any C function (``queue.SimpleQueue``
has the same). ``Injector(n).call(fn)`` runs ``fn()`` and reports what the caller would see:
the value it returned (stored before any exception raised after the return, as in real code)
and the exception raised inside it or right after it returned. ``points`` says how many check
points the call passed, so that a test can try every one: n = 1, 2, ... until n exceeds it.
"""

from __future__ import annotations

import _thread
import dis
import gc
import inspect
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

import mpsc
from mpsc import _waiters

_CALLS = frozenset({"CALL", "CALL_KW", "CALL_FUNCTION_EX", "PRECALL"})
_SLEEP = _waiters.ThreadWaiter.sleep.__code__
_AWAITING = (_waiters.AsyncWaiter.sleep.__code__, _waiters.TrioWaiter.sleep.__code__)
_COROUTINE = inspect.CO_COROUTINE | inspect.CO_ITERABLE_COROUTINE
_opnames: dict[CodeType, dict[int, str]] = {}
_MPSC = os.path.dirname(mpsc.__file__) + os.sep
# Event loops' own code, which mpsc calls to wake a task: asyncio is not safe against an
# exception landing inside it (a future marked done whose callbacks were never scheduled hangs
# its task for ever), whoever calls it, which is why asyncio.run turns Ctrl-C into a cancellation.
_LOOPS = tuple(os.path.dirname(__import__(name).__file__) + os.sep for name in ("asyncio",))

NOT_RETURNED: Any = object()


class Injected(KeyboardInterrupt):
    """What the injector raises (a KeyboardInterrupt, as Ctrl-C would)."""


class InjectedError(Exception):
    """What a signal handler may raise just as well: an ``Exception`` (an alarm's own timeout
    error, say), which code that catches ``Exception`` mistakes for its own errors."""


def _ops(code: CodeType) -> dict[int, str]:
    names = _opnames.get(code)
    if names is None:
        names = _opnames[code] = {i.offset: i.opname for i in dis.get_instructions(code)}
    return names


def checkpoint() -> None:
    """A check point (the start of a Python function; not every call into C is one: 3.11 runs
    some inline, ``list.append`` among them), where an exception deferred by a call lands."""


class Injector:
    """Raise ``Injected`` at the ``target``-th check point the calling thread passes."""

    def __init__(self, target: int, exc: Callable[[], BaseException] = Injected) -> None:
        self.target = target
        self.make = exc
        self.points = 0
        self.fired = False
        self.raised: list[BaseException] = []
        self.where = ""  # the check point it fired at, for a failure's message
        self._last: dict[FrameType, int] = {}
        self._child_ran: dict[FrameType, bool] = {}
        self._inside: set[FrameType] = set()  # frames of mpsc, or called by them
        # The trace function, kept: ``sys.settrace(None)`` in ``_tick`` must not free the object
        # a trace event still being dispatched is about to call (see ``call``).
        self._tracer = self._trace

    def _tick(self, frame: FrameType) -> None:
        self.points += 1
        if self.points == self.target:
            self.fired = True
            self.where = f" {frame.f_code.co_qualname}:{frame.f_lineno}"
            # From here on the traced code must run as it does untraced: a trace function is
            # Python code, and calling it would add check points where mpsc has none. (Which
            # is also why one trace cannot inject twice: CPython drops a trace function that
            # raises. SignalInjector does.)
            sys.settrace(None)
            self.raised.append(self.make())
            raise self.raised[-1]

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Any:
        if self.fired:
            return None
        if event == "call":
            parent = frame.f_back
            if parent is not None and parent in self._child_ran:
                self._child_ran[parent] = True
            filename = frame.f_code.co_filename
            if filename.startswith(_LOOPS) or (parent not in self._inside and not filename.startswith(_MPSC)):
                return self._trace  # the caller's code, or an event loop's
            self._inside.add(frame)
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            frame.f_trace = self._tracer  # (3.12 wants it set, besides being returned)
            self._child_ran[frame] = False
            resumed = frame.f_lasti > 0 and frame.f_code.co_flags & _COROUTINE
            if not resumed or frame.f_code in _AWAITING:
                self._tick(frame)
            return self._trace
        if event != "opcode" or frame not in self._inside:
            return self._trace
        names = _ops(frame.f_code)
        here = frame.f_lasti
        op = names.get(here, "")
        last = self._last.get(frame)
        self._last[frame] = here
        if last is not None:
            previous = names.get(last, "")
            if (
                previous in _CALLS
                and not (previous == "PRECALL" and op == "CALL")
                and not self._child_ran.get(frame, False)
            ):
                self._tick(frame)  # the end of a call into C
        if op in {"JUMP_BACKWARD", "BEFORE_WITH"} or (op in _CALLS and frame.f_code is _SLEEP):
            self._tick(frame)
        if op in _CALLS:
            self._child_ran[frame] = False
        return self._trace

    def call(self, fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
        """Run ``fn()`` traced; return (its result or NOT_RETURNED, the exception seen).

        The cyclic collector is off meanwhile: a finalizer it ran inside the call (a handle an
        earlier test left in a cycle) would run mpsc's code, whose check points would be counted
        as the call's and could take the injection. On CPython 3.11 that can also crash the
        interpreter: a 'call' event makes the callee's frame object (an allocation that may
        collect) after reading the trace function and before marking the thread as tracing, so
        the finalizer is traced there; firing in it (``sys.settrace(None)``) freed the trace
        function that event then called, when only the thread state held it (``_tracer`` now
        holds it too)."""
        result = NOT_RETURNED
        collecting = gc.isenabled()
        gc.disable()
        try:
            sys.settrace(self._tracer)
            result = fn()
            sys.settrace(None)  # a call into C: an exception deferred by fn lands here
            checkpoint()
            return result, None
        except BaseException as exc:
            sys.settrace(None)
            return result, exc
        finally:
            if collecting:
                gc.enable()
            self._last.clear()
            self._child_ran.clear()
            self._inside.clear()


class SignalInjector:
    """Raise ``Injected`` at the ``target``-th check point of a call made in the main thread,
    and a second one ``then`` points later: two signals arriving close together, the second
    landing while mpsc handles the first.

    Here the check points are CPython's own, not a model of them: a signal handler is kept
    pending for the whole call (each run of it makes itself pending again, with no check point
    of its own after that), so CPython runs it at every check point it passes. It counts those
    in mpsc's frames and in frames they call, and raises at the chosen two. A pending signal
    does not cut a blocking acquire short (it is simulated, not delivered), so those points
    are only ``Injector``'s.
    """

    SIGNAL = signal.SIGUSR2

    def __init__(self, target: int, then: int, kind: Callable[[int], BaseException] = Injected) -> None:
        self.target = target
        self.then = then
        self.kind = kind  # what it raises: Injected, or an Exception a handler might raise
        self.points = 0
        self.on = False
        self.fired = False
        self.raised: list[BaseException] = []
        self.where = ""
        self._root: FrameType | None = None

    def _pend(self) -> None:
        for _ in map(_thread.interrupt_main, (self.SIGNAL,)):  # no check point after it
            break

    def _inside(self, frame: FrameType | None) -> bool:
        while frame is not None and frame is not self._root:
            filename = frame.f_code.co_filename
            if filename.startswith(_LOOPS):
                return False
            if filename.startswith(_MPSC):
                return True
            frame = frame.f_back
        return False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if not self.on:
            return
        if self._inside(frame):
            self.points += 1
            if self.points == self.target:
                assert frame is not None
                self.fired = True
                self.where += f" {frame.f_code.co_qualname}:{frame.f_lineno}"
                self.raised.append(self.kind(len(self.raised) + 1))
                if len(self.raised) == 1:
                    self.target += self.then
                    self._pend()
                else:
                    self.on = False
                raise self.raised[-1]
        self._pend()

    def call(self, fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
        """Run ``fn()`` so interrupted; return (its result or NOT_RETURNED, the exception seen)."""
        assert threading.current_thread() is threading.main_thread(), "signals run in the main thread"
        previous = signal.signal(self.SIGNAL, self._handler)
        result = NOT_RETURNED
        self._root = sys._getframe()
        try:
            try:
                self.on = True
                self._pend()
                result = fn()
                self.on = False
                checkpoint()  # an exception deferred by fn lands here
                return result, None
            except BaseException as exc:
                self.on = False
                return result, exc
        finally:
            self.on = False
            signal.signal(self.SIGNAL, previous)
            self._root = None


def quietly(injector: SignalInjector, fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``injector.call(fn)``, with what lands in a finalizer or weakref callback (which Python
    reports as unraisable and drops) kept from pytest's hook, which an injection can interrupt."""
    hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        return injector.call(fn)
    finally:
        sys.unraisablehook = hook


def every_point(run: Callable[[int], bool], limit: int = 5000) -> int:
    """Call ``run(n)`` for n = 1, 2, ... until it says the call passed fewer than n check
    points (it returns False); return how many points there were. A first run with n = 0 (no
    injection) lets CPython 3.12 instrument the code it traces, which it does on first use."""
    run(0)
    for n in range(1, limit):
        if not run(n):
            return n - 1
    raise AssertionError(f"more than {limit} check points: the call does not end")


def every_two_points(run: Callable[[int, int], int], limit: int = 5000) -> int:
    """Call ``run(n, m)`` — a first exception at the n-th check point, a second m points after
    it — for every pair; ``run`` says how many of the two fired (0: the call passed fewer than
    n points; 1: fewer than m more). Return how many pairs fired both."""
    run(0, 1)
    pairs = 0
    for n in range(1, limit):
        for m in range(1, limit):
            fired = run(n, m)
            if fired < 2:
                break
            pairs += 1
        if fired == 0:
            return pairs
    raise AssertionError(f"more than {limit} check points: the call does not end")
