"""One algorithm per operation, two drivers: threads and asyncio.

A send or a receive is written once, as a generator that yields the server calls it needs — a
:class:`Step`: how to build the command for an attempt, the caller's deadline, how long the
command itself may block, and whether its outcome matters once it is sent (a script that
changes the channel) — and is sent back the reply, or has ``Expired``/``ConnectionError``
thrown in. :func:`drive` runs it with blocking calls, :func:`drive_async` with redis.asyncio.

Cancellation (asyncio): a step whose outcome matters is finished even when the task is
cancelled during it (the call is shielded and awaited), and its reply is handed to the
generator. A waiting step (XREAD/BLPOP/BLMOVE) is cut short, and the generator hears
:class:`Abandoned` (an ``Expired``: as if its deadline had passed), so that it can take back
what it left on the server (a rendezvous offer or announcement) with more steps, which are
run to the end. If the operation then completes, it returns its result and the cancellation is
delivered again at the task's next await; if not, ``CancelledError`` is raised, with nothing
taken or sent. An interrupt (Ctrl-C) landing in a thread's waiting step is handled the same
way: the call either returns its result (the exception raised right after, see
``mpsc._interrupts``) or did not happen and raises it.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from .._interrupts import finish, nothing
from ._errors import ConnectionError
from ._link import Build, Expired, Link

R = TypeVar("R")


class Step(NamedTuple):
    build: Build
    deadline: float | None
    extra: float = 0.0
    commits: bool = True
    size: int = 0


Algorithm = Generator[Step, Any, R]


class Abandoned(Expired):
    """Thrown into an algorithm at a waiting step cut short by a cancellation or an interrupt:
    it acts as if its deadline had passed (taking back what it left on the server)."""


def _advance(algorithm: Algorithm[R], reply: Any, error: BaseException | None) -> tuple[bool, Any]:
    """Run the algorithm to its next step: ``(True, result)`` once it finished, else
    ``(False, step)``."""
    try:
        step = algorithm.send(reply) if error is None else algorithm.throw(error)
    except StopIteration as stop:
        return True, stop.value
    return False, step


def _call(link: Link, step: Step) -> tuple[Any, BaseException | None]:
    try:
        return link.call(step.build, step.deadline, step.extra, step.size), None
    except (Expired, ConnectionError) as exc:
        return None, exc


def drive(link: Link, algorithm: Algorithm[R]) -> R:
    """Run ``algorithm`` with blocking calls. An exception landing in a waiting step (Ctrl-C)
    is held while the algorithm takes back what it left (``Abandoned``): then either it
    completed, and its result is returned with the exception raised right after, or the
    exception is raised. (The loop is ``while True``: see ``mpsc._ops.recorded`` on loop back
    edges.)"""
    reply: Any = None
    error: BaseException | None = None
    landed: BaseException | None = None
    while True:
        try:
            done, got = _advance(algorithm, reply, error)
        except BaseException:
            if landed is not None:
                raise landed from None
            raise
        if done:
            result: R = got
            if landed is not None:
                return finish(result, nothing, None, landed)
            return result
        if landed is not None and not got.commits:  # it would wait again: it gives up instead
            reply, error = None, Abandoned()
            continue
        # (Through a function, its result stored with no check point after it: a loop's back
        # edge right after a handler is outside it on 3.13, see ``mpsc._ops.recorded``.)
        for reply, error, landed in map(_call_holding, (link,), (got,), (landed,)):  # noqa: B020
            break


def _call_holding(link: Link, step: Any, landed: BaseException | None) -> tuple[Any, Any, Any]:
    """``drive``'s call of a step: (reply, error, what landed). An exception landing in a
    waiting step is held (the algorithm then takes back what it left); in a committing step, or
    a second one, it is raised."""
    try:
        reply, error = _call(link, step)
    except BaseException as exc:
        if step.commits or landed is not None:
            raise
        return None, Abandoned(), exc
    return reply, error, landed


def refuse_in_event_loop(suggestion: str) -> None:
    """A blocking call that would wait raises ``RuntimeError`` in a thread running an event
    loop (it would freeze the loop), as the thread channels do."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio.events._get_running_loop() is not None:
        raise RuntimeError(
            f"a blocking mpsc.redis call would freeze the running event loop; await {suggestion} instead"
        )


async def drive_async(link: Link, algorithm: Algorithm[R]) -> R:
    """Run ``algorithm`` in an asyncio task (see the module's docstring on cancellation)."""
    import asyncio

    reply: Any = None
    error: BaseException | None = None
    cancelled = 0
    while True:
        try:
            done, got = _advance(algorithm, reply, error)
        except BaseException:
            if cancelled:  # it did not complete: it took back what it had left, and did nothing
                raise asyncio.CancelledError() from None
            raise
        if done:
            if cancelled:
                _redeliver(cancelled)
            result: R = got
            return result
        if cancelled and not got.commits:  # it would wait again: it gives up instead
            reply, error = None, Abandoned()
            continue
        reply, error, more = await _call_async(link, algorithm, got)
        cancelled = cancelled or more


async def _call_async(
    link: Link, algorithm: Algorithm[Any], step: Step
) -> tuple[Any, BaseException | None, int]:
    """One step's call: ``(reply, error, cancelled)``, where ``cancelled`` is the task's
    cancellation level if it was cancelled during a step that had to be finished."""
    import asyncio

    call = asyncio.ensure_future(link.call_async(step.build, step.deadline, step.extra, step.size))
    try:
        return (await asyncio.shield(call) if step.commits else await call), None, 0
    except asyncio.CancelledError:
        task = asyncio.current_task()
        cancelled = max(1, task.cancelling() if task is not None else 1)
        if not step.commits:  # a wait, cut short: the algorithm takes back what it left
            return None, Abandoned(), cancelled
        if call.cancelled():
            algorithm.close()
            raise
        await _finished(call)
        try:
            return call.result(), None, cancelled
        except (Expired, ConnectionError) as exc:
            return None, exc, cancelled
        except BaseException:
            algorithm.close()
            raise asyncio.CancelledError() from None
    except (Expired, ConnectionError) as exc:
        return None, exc, 0


async def _finished(call: Any) -> None:
    """Wait for ``call`` to end, whatever cancellations come meanwhile."""
    while True:
        if call.done():
            break
        await _quietly(call)


async def _quietly(call: Any) -> None:
    """Wait for ``call`` until it ends or this task is cancelled again, raising neither: the
    call's own error (ConnectionError, Expired) is read from it by the caller (it escaped
    ``_call_async``'s handling, and a cancelled task ended in ConnectionError: review 2, 14)."""
    import asyncio

    try:
        await asyncio.wait([call])
    except asyncio.CancelledError:
        pass


def _redeliver(level: int) -> None:
    """The operation completed although the task was cancelled during it: the cancellation is
    delivered again at the task's next await (unless consumed meanwhile, e.g. by an
    ``asyncio.timeout`` block that ended)."""
    import asyncio

    task = asyncio.current_task()
    if task is None:
        return

    def again(task: Any = task) -> None:
        if not task.done() and task.cancelling() >= level:
            task.cancel()
            task.uncancel()

    asyncio.get_running_loop().call_soon(again)
