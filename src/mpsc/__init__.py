"""mpsc: Rust's channels for Python — threads today; select, timers, asyncio and processes next.

>>> import mpsc
>>> tx, rx = mpsc.channel()
>>> tx.send("hi")
>>> rx.recv()
'hi'
"""

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
from ._spawn import JoinHandle, spawn

__all__ = [
    "ChannelError",
    "ClosedHandleError",
    "Empty",
    "Full",
    "JoinHandle",
    "Receiver",
    "RecvError",
    "RecvTimeoutError",
    "SendError",
    "SendTimeoutError",
    "Sender",
    "SyncSender",
    "Timeout",
    "TryRecvError",
    "TrySendError",
    "bounded",
    "channel",
    "spawn",
    "sync_channel",
    "unbounded",
]

__version__ = "0.1.0"
