"""spawn: run a function in a new thread, moving the channel handles it is given into it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from ._deadlines import deadline_after
from ._errors import Timeout
from ._handles import _Handle

P = ParamSpec("P")
R = TypeVar("R")


class JoinHandle(Generic[R]):
    """The spawned thread: ``join()`` waits for it and returns its function's result."""

    __slots__ = ("_done", "_error", "_result", "_thread")

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._done = False
        self._result: R | None = None
        self._error: BaseException | None = None

    @property
    def thread(self) -> threading.Thread:
        """The underlying ``threading.Thread``."""
        assert self._thread is not None
        return self._thread

    def join(self, timeout: float | None = None) -> R:
        """Wait for the thread; return its result or re-raise its exception.

        With ``timeout`` (seconds), raise ``mpsc.Timeout`` if the thread is still running then.
        """
        if timeout is None:
            self.thread.join()
        else:
            deadline = deadline_after(timeout)
            self.thread.join(None if deadline is None else timeout)
        if not self._done:
            raise Timeout()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    def is_finished(self) -> bool:
        """Whether the function has returned or raised."""
        return self._done

    def __repr__(self) -> str:
        state = "finished" if self._done else "running"
        return f"<mpsc.JoinHandle {self.thread.name} {state}>"


def spawn(fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> JoinHandle[R]:
    """Run ``fn(*args, **kwargs)`` in a new thread and return its :class:`JoinHandle`.

    Every Sender and Receiver among the arguments is *moved* into the thread, as Rust's
    ``move`` closure moves them: the thread owns it from now on and closes it when ``fn``
    returns or raises, and the caller's handle becomes unusable (``clone()`` it first to keep
    one). That is what lets ``for msg in rx`` end once the workers are done.
    """
    if not callable(fn):
        raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
    handles = [arg for arg in (*args, *kwargs.values()) if isinstance(arg, _Handle)]
    for arg in handles:  # all usable, or nothing is moved
        arg._live()
    moves: dict[int, tuple[_Handle[Any], _Handle[Any]]] = {}

    def take(arg: Any) -> Any:
        if isinstance(arg, _Handle):
            if id(arg) not in moves:  # the same handle passed twice moves once
                moves[id(arg)] = (arg, arg._move())
            return moves[id(arg)][1]
        return arg

    def give_back() -> None:  # spawn failed: the caller keeps what it passed
        for original, moved in moves.values():
            original._chan, moved._chan = moved._chan, original._chan

    try:
        args = tuple(take(arg) for arg in args)  # type: ignore[assignment]
        kwargs = {name: take(arg) for name, arg in kwargs.items()}  # type: ignore[assignment]
    except BaseException:
        give_back()
        raise
    moved = [pair[1] for pair in moves.values()]
    handle: JoinHandle[R] = JoinHandle()

    def run() -> None:
        try:
            handle._result = fn(*args, **kwargs)
        except BaseException as exc:
            handle._error = exc
        finally:
            for owned in moved:
                owned.close()
            handle._done = True

    thread = threading.Thread(target=run, name=f"mpsc-{getattr(fn, '__name__', 'spawn')}")
    handle._thread = thread
    try:
        thread.start()
    except BaseException:
        give_back()
        raise
    return handle
