# The C try pass of select (_accel.c); built for CPython, with or without the GIL.
from collections.abc import Callable, Sequence
from typing import Any

def setup(
    receiver: type,
    sender: type,
    chan: type,
    unbounded: type,
    bounded: type,
    channel_error: type,
    recv_error: type,
    send_error: type,
    nothing: object,
    settle_and_raise_after: Callable[[Any, BaseException], None],
) -> bool: ...
def seed(n: int) -> None: ...
def try_ops(ops: Sequence[tuple[Any, ...]] | None, timeout: object) -> tuple[int, Any] | None: ...

class FastSelect:
    def __init__(self, fallback: Callable[..., tuple[int, Any]]) -> None: ...
    def __call__(
        self, *operations: Any, timeout: float | None = None, block: bool = True
    ) -> tuple[int, Any]: ...
