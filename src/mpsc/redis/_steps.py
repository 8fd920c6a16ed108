"""One algorithm per operation, two drivers: threads and asyncio.

A send or a receive is written once, as a generator that yields the server calls it needs — a
:class:`Step`: how to build the command for an attempt, the caller's deadline, how long the
command itself may block, and whether its outcome matters once it is sent (a script that
changes the channel) — and is sent back the reply, or has ``Expired``/``ConnectionError``
thrown in. :func:`drive` runs it with blocking calls, :func:`drive_async` with redis.asyncio.

Cancellation (asyncio): a step whose outcome matters is finished even when the task is
cancelled during it (the call is shielded and awaited), and its reply is handed to the
generator; if the operation is then complete, it returns its result and the cancellation is
delivered again at the task's next await; if not, the generator is closed and
``CancelledError`` raised, with nothing taken or sent. A waiting step (XREAD/BLPOP) is simply
cancelled.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import Any, NamedTuple, TypeVar

from ._errors import ConnectionError
from ._link import Build, Expired, Link

R = TypeVar("R")


class Step(NamedTuple):
    build: Build
    deadline: float | None
    extra: float = 0.0
    commits: bool = True


Algorithm = Generator[Step, Any, R]


def drive(link: Link, algorithm: Algorithm[R]) -> R:
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = algorithm.send(reply) if error is None else algorithm.throw(error)
        except StopIteration as stop:
            result: R = stop.value
            return result
        reply = error = None
        try:
            reply = link.call(step.build, step.deadline, step.extra)
        except (Expired, ConnectionError) as exc:
            error = exc


def refuse_in_event_loop(suggestion: str) -> None:
    """A blocking call that would wait raises ``RuntimeError`` in a thread running an event
    loop (it would freeze the loop), as the thread channels do."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio.events._get_running_loop() is not None:
        raise RuntimeError(
            f"a blocking mpsc.redis call would freeze the running event loop; await {suggestion} instead"
        )


async def drive_async(link: Link, algorithm: Algorithm[R]) -> R:
    import asyncio

    reply: Any = None
    error: BaseException | None = None
    cancelled = 0
    while True:
        try:
            step = algorithm.send(reply) if error is None else algorithm.throw(error)
        except StopIteration as stop:
            result: R = stop.value
            if cancelled:
                _redeliver(cancelled)
            return result
        if cancelled:  # the operation is not complete: it is abandoned, having done nothing
            algorithm.close()
            raise asyncio.CancelledError()
        reply = error = None
        call = asyncio.ensure_future(link.call_async(step.build, step.deadline, step.extra))
        try:
            reply = await asyncio.shield(call) if step.commits else await call
        except asyncio.CancelledError:
            if not step.commits or call.cancelled():
                algorithm.close()
                raise
            task = asyncio.current_task()
            cancelled = task.cancelling() if task is not None else 1
            while not call.done():
                try:
                    await asyncio.shield(call)
                except asyncio.CancelledError:
                    pass
            try:
                reply = call.result()
            except (Expired, ConnectionError) as exc:
                error = exc
            except BaseException:
                algorithm.close()
                raise asyncio.CancelledError() from None
        except (Expired, ConnectionError) as exc:
            error = exc


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
