"""Where a channel lives on the server: its name, its eight keys (and a rendezvous sender's
ack lists), and the server's URL with and without its secrets."""

from __future__ import annotations

import os
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_SECRET_QUERY: Final = frozenset({"password", "ssl_keyfile", "ssl_certfile", "ssl_password"})
_SCHEMES: Final = ("redis", "rediss", "unix")
_OWN_QUERY: Final = frozenset(
    {
        "decode_responses",
        "encoding",
        "encoding_errors",
        "protocol",
        "socket_timeout",
        "socket_connect_timeout",
        "retry_on_timeout",
        "max_connections",
        "single_connection_client",
    }
)
"""URL options mpsc.redis sets itself (the replies' form, the bounds of every call)."""


def check_url(url: object) -> str:
    """``url`` if it looks like a Redis URL redis-py accepts; ``ValueError``/``TypeError`` else."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str such as 'redis://localhost:6379/0', not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"not a Redis URL (redis://, rediss:// or unix://): {public_url(url)!r}")
    if parts.scheme != "unix":
        if not parts.hostname:
            raise ValueError(f"a Redis URL needs a host: {public_url(url)!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"bad port in the Redis URL {public_url(url)!r}") from None
        if port == 0:  # (redis-py would take it for its default, 6379)
            raise ValueError(f"port 0 in the Redis URL {public_url(url)!r}")
        database = parts.path.strip("/")
        if database and not database.isdigit():
            raise ValueError(
                f"the path of a Redis URL is a database number, not {parts.path!r}: {public_url(url)!r}"
            )
    query = dict(parse_qsl(parts.query))
    if "db" in query and not query["db"].isdigit():
        raise ValueError(f"db must be a database number in the Redis URL {public_url(url)!r}")
    own = sorted(_OWN_QUERY.intersection(query))
    if own:
        raise ValueError(
            f"mpsc.redis sets {', '.join(own)} itself: remove it from the URL {public_url(url)!r}"
        )
    return url


def public_url(url: str) -> str:
    """``url`` without its password and TLS key material: what a pickled handle carries."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hostport}" if user else hostport
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in _SECRET_QUERY])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def check_name(name: object) -> str:
    if name is None:
        return "mpsc:" + os.urandom(12).hex()
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not name or "{" in name or "}" in name:
        raise ValueError(f"a channel name must be non-empty and without braces, got {name!r}")
    return name


class Keys:
    """The channel's keys: the stream is the name itself (a Redis user sees the channel as the
    stream it is), the rest carry it as their hash tag (``{name}:mpsc:...``), so a cluster keeps
    all of them on the name's slot. Encoded once: they go with every call."""

    __slots__ = ("all", "ctl", "name", "send", "space", "stream", "tag")

    def __init__(self, name: str) -> None:
        self.name = name
        tag = "{" + name + "}"
        names = (
            f"{tag}:mpsc:meta",
            name,
            f"{tag}:mpsc:tx",
            f"{tag}:mpsc:rx",
            f"{tag}:mpsc:space",
            f"{tag}:mpsc:seq",
            f"{tag}:mpsc:ctl",
            f"{tag}:mpsc:wait",
        )
        self.tag = tag
        self.all: tuple[bytes, ...] = tuple(n.encode() for n in names)
        self.stream, self.space, self.ctl = self.all[1], self.all[4], self.all[6]
        # What the hot send script (``_lua.SEND_FAST``) touches: meta, stream, tx, seq.
        self.send: tuple[bytes, ...] = (self.all[0], self.all[1], self.all[2], self.all[5])

    def acks(self, lane: str) -> bytes:
        """The list where a rendezvous sender's lane hears that its offer was taken."""
        return f"{self.tag}:mpsc:ack:{lane}".encode()
