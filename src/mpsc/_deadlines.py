"""Timeouts and deadlines: checked at the call, turned into one ``time.monotonic()`` deadline.

A deadline of ``None`` means "wait forever". A timeout too large for the clock (or infinite) is
"no timeout" rather than an ``OverflowError``, as crossbeam and Rust treat an overflowing
``Instant + Duration``.
"""

from __future__ import annotations

import math
import numbers
from threading import TIMEOUT_MAX
from time import monotonic


def _seconds(value: object, what: str) -> float:
    if type(value) is float:
        number = value
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    else:
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float: beyond any clock, either way
            return math.inf if value > 0 else -math.inf  # type: ignore[operator]
    if math.isnan(number):
        raise ValueError(f"{what} must not be NaN")
    return number


def deadline_after(timeout: object) -> float | None:
    """The monotonic deadline ``timeout`` seconds from now; None when it is beyond the clock."""
    seconds = _seconds(timeout, "timeout")
    if seconds < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout!r}")
    if seconds >= TIMEOUT_MAX:
        return None
    return monotonic() + seconds


def checked_deadline(deadline: object) -> float | None:
    """A caller's ``time.monotonic()`` deadline, checked; None when it is infinitely far."""
    instant = _seconds(deadline, "deadline")
    if instant == math.inf or instant - monotonic() >= TIMEOUT_MAX:
        return None
    return instant


def expired(deadline: float | None) -> bool:
    """Whether ``deadline`` has passed (never, for None)."""
    return deadline is not None and monotonic() >= deadline
