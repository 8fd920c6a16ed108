"""spawn: run a function in a new thread, moving the channel handles it is given into it."""

from __future__ import annotations

import threading
from _thread import LockType, allocate_lock
from collections.abc import Callable
from time import monotonic
from typing import Any, Generic, ParamSpec, TypeVar

from ._deadlines import deadline_after
from ._errors import Timeout
from ._ownership import Scoped

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

        Args:
            timeout: Seconds to wait at most (``>= 0``); None waits until the thread ends.

        Returns:
            What the function returned.

        Raises:
            Timeout: The thread was still running when ``timeout`` expired.
            TypeError: ``timeout`` is not a number.
            ValueError: ``timeout`` is negative or NaN.
            BaseException: Whatever the function raised, re-raised here (each time ``join``
                is called).
        """
        deadline = None if timeout is None else deadline_after(timeout)
        if deadline is None:
            self.thread.join()
        else:
            self.thread.join(max(0.0, deadline - monotonic()))
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
    """Run ``fn(*args, **kwargs)`` in a new thread and return its [`JoinHandle`][mpsc.JoinHandle].

    Every Sender and Receiver among the arguments (of a thread channel or of a process channel)
    is *moved* into the thread, as Rust's
    ``move`` closure moves them: the thread owns it from now on and closes it when ``fn``
    returns or raises, and the caller's handle becomes unusable (``clone()`` it first to keep
    one). That is what lets ``for msg in rx`` end once the workers are done.

    All or nothing: if spawning fails (or is interrupted), no handle has moved and ``fn`` does
    not run. The thread starts first and waits at a gate; the handles move; the gate opens —
    the one step that commits the spawn, with no check point after it (see ``_interrupts``).

    Args:
        fn: The function to run in the new thread.
        *args: Its positional arguments; handles among them are moved into the thread.
        **kwargs: Its keyword arguments; handles among them are moved into the thread.

    Returns:
        The thread's [`JoinHandle`][mpsc.JoinHandle]; ``join()`` gives ``fn``'s result.

    Raises:
        TypeError: ``fn`` is not callable.
        ClosedHandleError: A handle among the arguments was closed (or already moved); then
            nothing has moved.
        RuntimeError: The thread could not be started (``threading.Thread.start``).
    """
    if not callable(fn):
        raise TypeError(f"spawn() needs a callable, not {type(fn).__name__}")
    handles = [arg for arg in (*args, *kwargs.values()) if isinstance(arg, Scoped)]
    for arg in handles:  # all usable, or nothing is moved
        arg._check_open()
    handle: JoinHandle[R] = JoinHandle()
    gate = allocate_lock()
    gate.acquire()
    opening = map(LockType.release, (gate,))
    call: list[Any] = []  # (args, kwargs, moved handles) once the spawn commits

    def run() -> None:
        gate.acquire()
        if not call:  # the spawn did not commit: the caller keeps its handles
            return
        run_args, run_kwargs, moved = call[0]
        try:
            handle._result = fn(*run_args, **run_kwargs)
        except BaseException as exc:
            handle._error = exc
        finally:
            for owned in moved:
                owned.close()
            handle._done = True

    thread = threading.Thread(target=run, name=f"mpsc-{getattr(fn, '__name__', 'spawn')}")
    handle._thread = thread
    moves: dict[int, tuple[Scoped, Scoped]] = {}

    def take(arg: Any) -> Any:
        if isinstance(arg, Scoped):
            key = id(arg)
            if key not in moves:  # the same handle passed twice moves once
                moves[key] = (arg, arg._moved())
            return moves[key][1]
        return arg

    try:
        thread.start()
        moved_args = tuple(take(arg) for arg in args)
        moved_kwargs = {name: take(arg) for name, arg in kwargs.items()}
        moved = [pair[1] for pair in moves.values()]
        work = (moved_args, moved_kwargs, moved)
    except BaseException:
        for original, new in moves.values():  # the caller keeps what it passed
            original._unmoved(new)
        for _ in opening:  # a started thread finds nothing to do
            break
        raise
    call += (work,)
    for _ in opening:
        break
    return handle
