"""``bridge``: a Redis Receiver seen as a thread-channel Receiver, so that ``mpsc.select`` can
wait on it together with thread channels, process channels' bridges and timers.

A daemon thread owns the Redis Receiver and moves each message into a rendezvous thread channel
(``mpsc.bounded(0)``): a message leaves Redis only when a ``recv``/``select`` of the returned
Receiver is about to take it, so at most one message (the one in the thread's hand) is between
the two. What that gives, honestly:

* while the process lives, every message is delivered once, in the Redis Receiver's order, and
  ``RecvError`` (or, in a select, that operation's ``RecvError``) comes once the Redis channel
  is disconnected and drained;
* the message in the thread's hand was already handed out by the Redis Receiver: if the process
  dies, it is delivered again to another receiver only if its acknowledgement had not been sent
  yet (within a quarter lease); otherwise it is lost with the process (at most one message);
* closing the returned Receiver ends the thread within ``POLL`` seconds and closes the Redis
  Receiver; the message in its hand, if any, is dropped then (as Rust drops what a closed
  channel held), so close a bridge only when its channel is done, or accept losing one message;
* a server that cannot be reached: the thread keeps trying (each attempt bounded by the retry
  window), so the bridge just waits, as a select would;
* a message whose unpickling raises is consumed (as by any Receiver) and reported as a
  ``RuntimeWarning``; the bridge goes on with the next one. Another error of the Redis Receiver
  (its lease expired, the server refused a call) ends the bridge, as its disconnection would.
"""

from __future__ import annotations

import threading
import warnings
from typing import Final, TypeVar

from .._channels import bounded
from .._errors import ChannelError, SendError, Timeout
from .._handles import Receiver as ThreadReceiver
from .._handles import Sender as ThreadSender
from ._errors import ConnectionError
from ._handles import OWN_ERROR_NOTE, Receiver

T = TypeVar("T")

POLL: Final = 0.5
"""How often the bridge thread checks that the bridge is still wanted while nothing arrives."""


def bridge(rx: Receiver[T]) -> ThreadReceiver[T]:
    """Move ``rx`` into a thread that feeds a new thread-channel Receiver, which is returned:
    use it in ``mpsc.select`` (or anywhere a thread Receiver goes). ``rx`` is owned by the
    bridge from now on (it is closed when the bridge ends). The thread ends once the Redis
    channel is disconnected and drained, or within ``POLL`` seconds of the returned Receiver's
    close. While the process lives every message is delivered once, in order; at most one
    message is between Redis and the select, and it is lost if the process dies (or the
    returned Receiver is closed) while the thread holds it.

    Args:
        rx: A Redis Receiver; it moves into the bridge.

    Returns:
        A thread-channel Receiver of the same messages, for ``mpsc.select`` and ``Select``;
        it gets ``RecvError`` once the Redis channel is disconnected and drained.

    Raises:
        TypeError: ``rx`` is not an ``mpsc.redis`` Receiver.
        ClosedHandleError: ``rx`` was closed.
    """
    if not isinstance(rx, Receiver):
        raise TypeError(f"bridge() takes an mpsc.redis Receiver, not {type(rx).__name__}")
    mine = rx.clone()  # the thread's own handle; the caller's is released now (moved)
    rx.close()
    local: tuple[ThreadSender[T], ThreadReceiver[T]] = bounded(0)
    local_tx, local_rx = local

    def feed() -> None:
        with mine, local_tx:
            while True:
                if local_tx.is_disconnected():
                    return
                try:
                    value = mine.recv_timeout(POLL)
                except Exception as exc:
                    if OWN_ERROR_NOTE not in getattr(exc, "__notes__", ()):
                        if isinstance(exc, (Timeout, ConnectionError)):
                            continue
                        if isinstance(exc, ChannelError):  # (RecvError, closed, lease lost)
                            return
                    # The value's own unpickling error (whatever its class): consumed, reported.
                    warnings.warn(
                        f"mpsc.redis.bridge dropped a message of {mine.name!r} "
                        f"that failed to unpickle: {exc!r}",
                        RuntimeWarning,
                        stacklevel=1,
                    )
                    continue
                try:
                    local_tx.send(value)
                except SendError:
                    return

    threading.Thread(target=feed, name=f"mpsc.redis bridge {mine.name}", daemon=True).start()
    return local_rx
