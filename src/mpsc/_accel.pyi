# The C try pass of select (_accel.c); built for CPython, with or without the GIL.
from collections.abc import Callable
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
    closed_handle_error: type,
    nothing: object,
    settle_and_raise_after: Callable[[Any, BaseException], None],
    no_deque: object,
) -> bool: ...
def seed(n: int) -> None: ...

class SelectPass:
    """select's try pass, reached through a subscript (see _accel.c):
    ``PASS[records, operations_or_records, timeout]``."""

    def __getitem__(self, key: tuple[bool, Any, object]) -> tuple[int, Any] | None: ...

def install(sender: type, receiver: type, next: Callable[..., Any]) -> None: ...

class Undecided(Exception):
    """Storing ``Sender._sent`` left the send to the pure code (nothing happened)."""

class Steps:
    """The handles' receive step, reached through a subscript (see _accel.c): ``STEPS[rx]``."""

    def __getitem__(self, receiver: Any) -> Any: ...
