"""Commands encoded here, in the Redis protocol (RESP), instead of by redis-py at each call.

A send repeats most of its command (the script's SHA1, the keys, the lease and lane ids): its
lane encodes that part once (:func:`encode`), and each call adds the few arguments that change
and the header that counts them (:func:`command`). redis-py's encoder would redo all of it
per call, which costs a send about as much as the server's work.
"""

from __future__ import annotations

from typing import Final

_CRLF: Final = b"\r\n"


def _bulk(arg: bytes | str | int) -> bytes:
    if isinstance(arg, bytes):
        data = arg
    elif isinstance(arg, int):
        data = b"%d" % arg
    else:
        data = arg.encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def encode(*args: bytes | str | int) -> bytes:
    """The arguments as RESP bulk strings, without the header (a part of a command)."""
    return b"".join([_bulk(a) for a in args])


def command(count: int, head: bytes, *rest: bytes | str | int) -> bytes:
    """A whole command: ``head`` (``count`` arguments already encoded by :func:`encode`), then
    ``rest``."""
    return b"".join([b"*%d\r\n" % (count + len(rest)), head, *[_bulk(a) for a in rest]])
