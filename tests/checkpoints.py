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

import dis
import inspect
import os
import sys
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
        self.where = ""  # the check point it fired at, for a failure's message
        self._last: dict[FrameType, int] = {}
        self._child_ran: dict[FrameType, bool] = {}
        self._inside: set[FrameType] = set()  # frames of mpsc, or called by them

    def _tick(self, frame: FrameType) -> None:
        self.points += 1
        if self.points == self.target:
            self.fired = True
            self.where = f"{frame.f_code.co_qualname}:{frame.f_lineno}"
            # From here on the traced code must run as it does untraced: a trace function is
            # Python code, and calling it would add check points where mpsc has none.
            sys.settrace(None)
            raise self.make()

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
            frame.f_trace = self._trace  # (3.12 wants it set, besides being returned)
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
        """Run ``fn()`` traced; return (its result or NOT_RETURNED, the exception seen)."""
        result = NOT_RETURNED
        try:
            sys.settrace(self._trace)
            result = fn()
            sys.settrace(None)  # a call into C: an exception deferred by fn lands here
            checkpoint()
            return result, None
        except BaseException as exc:
            sys.settrace(None)
            return result, exc
        finally:
            self._last.clear()
            self._child_ran.clear()
            self._inside.clear()


def every_point(run: Callable[[int], bool], limit: int = 5000) -> int:
    """Call ``run(n)`` for n = 1, 2, ... until it says the call passed fewer than n check
    points (it returns False); return how many points there were. A first run with n = 0 (no
    injection) lets CPython 3.12 instrument the code it traces, which it does on first use."""
    run(0)
    for n in range(1, limit):
        if not run(n):
            return n - 1
    raise AssertionError(f"more than {limit} check points: the call does not end")
