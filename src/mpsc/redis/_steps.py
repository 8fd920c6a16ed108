"""One algorithm per operation, two drivers: threads and asyncio.

A send or a receive is written once, as a generator that yields the server calls it needs — a
:class:`Step`: how to build the command for an attempt, the caller's deadline, how long the
command itself may block, and whether its outcome matters once it is sent (a script that
changes the channel) — and is sent back the reply, or has ``Expired``/``ConnectionError``
thrown in. :func:`drive` runs it with blocking calls, :func:`drive_async` with redis.asyncio.

Cancellation (asyncio): a step whose outcome matters is finished even when the task is
cancelled during it (the call is shielded and awaited), and its reply is handed to the
generator -- but only while that reply can matter (``Step.lasts``, ``Step.until``): no
attempt is started after one that failed, and a call still running ``lasts`` seconds after
the cancellation is given up, the generator hearing :class:`Abandoned` (a fetch left on a
paused server is re-read by the handle's next receive; a send's attempt does nothing once its
``late`` instant passed, at the attempt's give-up, which ``lasts = None`` waits for). A
waiting step (XREAD/BLPOP/BLMOVE) is cut short, and the generator hears :class:`Abandoned`
(an ``Expired``: as if its deadline had passed), so that it can take back what it left on the
server (a rendezvous offer or announcement) with more steps, bounded the same way (a
rendezvous offer expires by itself at ``until``). If the operation then completes, it returns
its result and the cancellation is delivered again at the task's next await; if not,
``CancelledError`` is raised, with nothing taken or sent. An interrupt (Ctrl-C) landing in a
thread's waiting step is handled the same way: the call either returns its result (the
exception raised right after, see ``mpsc._interrupts``) or did not happen and raises it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from typing import Any, Final, NamedTuple, TypeVar

from .._interrupts import finish, nothing
from ._errors import ConnectionError
from ._link import Build, Expired, Link

R = TypeVar("R")

GRACE: Final = 0.5
"""Seconds a timed call waits past its deadline for the reply of a script it sent, which then
counts: a receive returns what it fetched, a send returns normally (and its script does nothing
once the server's clock passes the attempt's give-up instant minus ``GRACE / 2``). Also how
long a cancelled fetch's reply is still waited for (``Step.lasts``)."""


class Step(NamedTuple):
    build: Build
    deadline: float | None
    extra: float = 0.0
    commits: bool = True
    lasts: float | None = GRACE
    """Seconds past a cancellation (asyncio) that a committing step's reply can still matter:
    its call is then given up (``Abandoned``). None: until the attempt in flight gives up."""
    until: float | None = None
    """A ``time.monotonic()`` instant after which the step's reply cannot matter either (a
    rendezvous offer expired by then): a cancelled step is given up by then too."""
    size: int = 0
    """Bytes the command uploads (a large one gets time for it: ``_link.UPLOAD_RATE``)."""


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
        reply, error, more = await _call_async(link, algorithm, got, cancelled)
        cancelled = cancelled or more


async def _call_async(
    link: Link, algorithm: Algorithm[Any], step: Step, cancelled: int = 0
) -> tuple[Any, BaseException | None, int]:
    """One step's call: ``(reply, error, cancelled)``, where ``cancelled`` is the task's
    cancellation level if it was cancelled during a step that had to be finished. A step run
    after a cancellation (taking back what the operation left) is bounded the same way."""
    import asyncio

    stop = [bool(cancelled)]
    call = asyncio.ensure_future(link.call_async(step.build, step.deadline, step.extra, stop, step.size))
    if cancelled:  # (the task was cancelled before this step: a committing one, see drive_async)
        return await _outcome(call, algorithm, step, cancelled)
    try:
        return (await asyncio.shield(call) if step.commits else await call), None, 0
    except asyncio.CancelledError:
        task = asyncio.current_task()
        cancelled = max(1, task.cancelling() if task is not None else 1)
        if not step.commits:  # a wait, cut short: the algorithm takes back what it left
            return None, Abandoned(), cancelled
        stop[0] = True  # (no new attempt: the reply of one not yet made cannot matter)
        return await _outcome(call, algorithm, step, cancelled)
    except (Expired, ConnectionError) as exc:
        return None, exc, 0


async def _outcome(
    call: Any, algorithm: Algorithm[Any], step: Step, cancelled: int
) -> tuple[Any, BaseException | None, int]:
    """The outcome of a committing step's ``call`` in a cancelled task: its reply if it comes
    while it can matter (``step.lasts``), else ``Abandoned``; its own error otherwise."""
    import asyncio

    within = step.lasts
    if step.until is not None:
        left = max(0.0, step.until - time.monotonic())
        within = left if within is None else min(within, left)
    await _finished(call, within)
    if not call.done():
        call.cancel()  # (its attempt's connection is dropped: a late reply is never read)
        await _finished(call, None)
    if call.cancelled():
        return None, Abandoned(), cancelled
    try:
        return call.result(), None, cancelled
    except (Expired, ConnectionError) as exc:
        return None, exc, cancelled
    except BaseException:
        algorithm.close()
        raise asyncio.CancelledError() from None


async def _finished(call: Any, within: float | None) -> None:
    """Wait for ``call`` to end (at most ``within`` seconds), whatever cancellations come
    meanwhile: neither they nor the call's own error (ConnectionError, Expired: read from it by
    the caller) are raised here (a cancelled task ended in ConnectionError: review 2, 14)."""
    import asyncio

    until = None if within is None else time.monotonic() + within
    while True:
        if call.done():
            break
        left = None if until is None else until - time.monotonic()
        if left is not None and left <= 0:
            break
        try:
            await asyncio.wait([call], timeout=left)
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
