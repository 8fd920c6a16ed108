"""The errors that only a channel on a server can report. The rest are mpsc's own classes
(``mpsc.SendError``, ``mpsc.Full``, ...), so ``except mpsc.RecvError`` works on every flavour."""

from __future__ import annotations

from .._errors import ChannelError


class ConnectionError(ChannelError):
    """The Redis server could not be reached, or stopped answering, for longer than the retry
    window (``RETRY_FOR`` seconds after the first failure), or refused the connection
    (authentication). ``__cause__`` is redis-py's error.

    A send that raises it did not enqueue its value: every send carries a server-side deadline
    (see ``mpsc.redis``), so a script that reaches the server after the client gave up does
    nothing (except an untimed send whose command came too late once, e.g. a large value on a
    slow link: it went on without that deadline, and its outcome is unknown). A receive that
    raises it took nothing: entries read for it stay pending on the server and are handed out
    again.
    """

    message = "the Redis server could not be reached"

    def __init__(self, message: str | None = None) -> None:
        super().__init__()
        if message is not None:
            self.message = message


class LeaseExpiredError(ConnectionError):
    """This handle's lease on the server expired: its process could not renew it for a whole
    lease (it was paused, or cut off from the server), so the other side has counted the handle
    as gone (and another receiver may have taken its pending messages). The handle can no
    longer be used; close it. Also raised by a handle unpickled after its side was gone."""

    message = "this handle's lease on the Redis server expired; the channel counts it as gone"


class ServerError(ChannelError):
    """The Redis server refused a call with an error reply (``__cause__`` is redis-py's error):
    it is out of memory (``maxmemory`` with ``noeviction``: sends are refused, receives go on
    and free memory), or a key of the channel was replaced by one of another type (``WRONGTYPE``:
    the channel is broken), or the like. A send refused before its script ran (out of memory)
    did not enqueue its value."""

    message = "the Redis server refused the call"

    def __init__(self, message: str | None = None) -> None:
        super().__init__()
        if message is not None:
            self.message = message
