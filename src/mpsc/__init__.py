"""mpsc: Rust's channels for Python — threads and asyncio on one API, select, timers.

Examples:
    >>> import mpsc
    >>> tx, rx = mpsc.channel()
    >>> tx.send("hi")
    >>> rx.recv()
    'hi'
"""

from . import _implementation  # noqa: F401  (installs the compiled or the pure hot paths)
from ._channels import bounded, channel, sync_channel, unbounded
from ._errors import (
    ChannelError,
    ClosedHandleError,
    Empty,
    Full,
    RecvError,
    RecvTimeoutError,
    SendError,
    SendTimeoutError,
    Timeout,
    TryRecvError,
    TrySendError,
)
from ._handles import Receiver, Sender, SyncSender
from ._select import Select, select, select_async
from ._spawn import JoinHandle, spawn
from ._timers import after, at, never, tick

__all__ = [
    "ChannelError",
    "ClosedHandleError",
    "Empty",
    "Full",
    "JoinHandle",
    "Receiver",
    "RecvError",
    "RecvTimeoutError",
    "Select",
    "SendError",
    "SendTimeoutError",
    "Sender",
    "SyncSender",
    "Timeout",
    "TryRecvError",
    "TrySendError",
    "after",
    "at",
    "bounded",
    "channel",
    "never",
    "select",
    "select_async",
    "spawn",
    "sync_channel",
    "tick",
    "unbounded",
]

# The one place the version is written: pyproject.toml reads it (tool.setuptools.dynamic).
__version__ = "0.1.0"
