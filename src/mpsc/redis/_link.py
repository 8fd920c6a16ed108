"""One Redis server as this process sees it: connection pools, the scripts, retries, timeouts.

Calls go through redis-py's connections directly (send a command, wait for the reply until a
deadline, read it), so that every call is bounded: by the caller's deadline (``Expired``), and
otherwise by ``IO_TIMEOUT`` per attempt and ``RETRY_FOR`` seconds of retries after the first
failure (then ``mpsc.redis.ConnectionError``). A connection whose reply did not come in time is
dropped, so a late reply is never mistaken for the next call's.

Idle connections wait in a plain list (``Link._idle``), not in redis-py's pool: the pool costs a
lock, bookkeeping and a poll of the socket per call, as much as a send's own work, and an
exception landing inside its bookkeeping loses a connection for good (a hundred of them exhaust
it), where one landing here drops at most the connection at hand. A connection in the list is
always idle (any failure or interrupt during a call disconnects it first). A hot command can
come already encoded (:class:`Packed`, see ``_resp``).

Each script reply starts with the server's time; the link keeps the best lower bound of
``server time - time.monotonic()`` it has seen (a reply left the server before it arrived here),
with which a caller turns a local deadline into a server-side one (the ``late`` guard of sends).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import redis
import redis.asyncio
import redis.exceptions

from .._interrupts import complete
from ._errors import ConnectionError, ServerError
from ._keys import public_url

if TYPE_CHECKING:
    import asyncio

RETRY_FOR: Final = 3.0
"""Seconds a call keeps retrying after its first failure to reach the server."""
CONNECT_TIMEOUT: Final = 1.0
IO_TIMEOUT: Final = 2.0
"""Seconds an attempt waits for a reply (beyond a blocking command's own wait)."""
_BACKOFF: Final = (0.05, 0.1, 0.2, 0.4, 0.5)
UPLOAD_RATE: Final = 1_000_000
"""Bytes per second a large command (over ``LARGE``) is assumed to need at least to reach the
server: it gets ``size / UPLOAD_RATE`` seconds more (to be written, and before a send's
server-side deadline), so that a value that takes long to upload is not given up on and sent
again for ever (review 2, finding 10)."""
LARGE: Final = 256 * 1024

_UNREACHABLE: Final = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

# RESP2 and no CLIENT SETINFO (driver_info None): a new connection then sends no handshake
# (redis-py 8 says HELLO 3 by default), so connecting to a paused server waits for nothing
# until the first command, whose reply the call's deadline bounds. A handshake that does wait
# (AUTH, SELECT) is bounded by the call's deadline too (``_connect_by``; review 2, finding 01).
_OPTIONS: Final[dict[str, Any]] = {
    "socket_connect_timeout": CONNECT_TIMEOUT,
    "socket_timeout": IO_TIMEOUT,
    "driver_info": None,
    "protocol": 2,
}


class Packed:
    """A script call already encoded in RESP (``_resp``), and its script (loaded again when the
    server does not know it)."""

    __slots__ = ("data", "script")

    def __init__(self, data: bytes, script: Script) -> None:
        self.data = data
        self.script = script


Build = Callable[[float, int], "Sequence[Any] | Packed"]
"""Makes a call's command for one attempt: given the attempt's give-up instant (monotonic) and
its number (0 for the first)."""


class Expired(Exception):
    """The caller's deadline passed before a reply came (the connection was dropped)."""


class _NoReply(Exception):
    """An attempt got no reply in time, or lost its connection: retried."""


class Script:
    """A Lua script and its SHA1, loaded on demand (again after a server restart)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest().encode()


class Link:
    """The connections of this process to one server (one URL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.public = public_url(url)
        self.offset = -float("inf")
        self._lock = threading.Lock()
        self._pool: redis.ConnectionPool | None = None
        self._idle: list[Any] = []
        self._idle_pid = os.getpid()
        # Each event loop's pool, with the async generator whose finalization (the loop's
        # shutdown_asyncgens, which asyncio.run and Runner call before closing it) disconnects
        # it: a pool left to a closed loop kept its sockets open for good (the pool refers to
        # the loop, so the weak key never died).
        self._async_pools: weakref.WeakKeyDictionary[Any, tuple[redis.asyncio.ConnectionPool, Any]] = (
            weakref.WeakKeyDictionary()
        )

    # -- time ------------------------------------------------------------------------------

    def saw(self, server_ms: int) -> None:
        self.offset = max(self.offset, server_ms / 1000 - time.monotonic())

    def server_ms(self, instant: float) -> int:
        """The server's time (ms) at the local monotonic ``instant``, never later than it: 0
        when unknown."""
        if self.offset == -float("inf"):
            return 0
        return int((instant + self.offset) * 1000)

    # -- sync ------------------------------------------------------------------------------

    def _sync_pool(self) -> redis.ConnectionPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                pool = self._pool
                if pool is None:
                    pool = self._pool = redis.ConnectionPool.from_url(self.url, **_OPTIONS)
        return pool

    def _attempt(
        self, args: Sequence[Any] | Packed, give_up: float, plain: bool = False, large: bool = False
    ) -> Any:
        conn: Any = None  # (redis-py's connection methods are untyped)
        try:
            conn = self._connection()
            if conn._sock is not None and not _parser_ready(conn):
                conn.disconnect()  # an interrupt cut redis-py's connect or disconnect short
            if conn._sock is None:
                _connect_by(conn, give_up)
            if large:
                # The socket timeout bounds a whole write (sendall), and the reply's wait, which
                # includes the upload of what the kernel's buffers took: a large command has the
                # attempt's time for both.
                conn._sock.settimeout(max(IO_TIMEOUT, give_up - time.monotonic()))
            if isinstance(args, Packed):
                conn.send_packed_command([args.data])
            else:
                conn.send_command(*args)
            # A plain call's reply is read at once (the socket timeout, IO_TIMEOUT, bounds it);
            # one with an earlier deadline, or a blocking command, is waited for first.
            if not plain and not conn.can_read(timeout=max(0.0, give_up - time.monotonic())):
                conn.disconnect()
                raise _NoReply("no reply in time")
            reply = conn.read_response()
            if large:
                conn._sock.settimeout(conn.socket_timeout)
            return reply
        except redis.exceptions.AuthenticationError as exc:
            if conn is not None:
                conn.disconnect()
            raise ConnectionError(
                f"the Redis server at {self.public} refused the credentials: {exc}"
            ) from exc
        except _UNREACHABLE as exc:
            if conn is not None:
                conn.disconnect()
            raise _NoReply(str(exc)) from exc
        except redis.exceptions.NoScriptError:
            raise  # (loaded by the caller, and tried again; the reply was read whole)
        except redis.exceptions.ResponseError as exc:
            if _unauthenticated(exc):
                conn.disconnect()
                raise ConnectionError(f"the Redis server at {self.public} needs credentials: {exc}") from exc
            conn.disconnect()  # (it may have been refused as it connected: SELECT)
            raise _refused(self.public, exc) from exc
        except BaseException as exc:
            # An interrupt may leave a reply unread on the connection: it is not reused. (The
            # disconnect is finished even if another interrupt lands in it, or redis-py's own
            # was cut short: a half-disconnected connection would fail its next use.)
            if conn is not None:
                try:
                    exc = complete(_disconnect, conn, exc)
                except BaseException as landed:  # as complete() started
                    exc = complete(_disconnect, conn, landed)
            raise exc
        finally:
            if conn is not None:
                self._idle.append(conn)

    def _connection(self) -> Any:
        """An idle connection, or a new one (it connects as it sends)."""
        if self._idle_pid != os.getpid():  # a forked child: the parent's sockets are not its own
            self._idle, self._idle_pid = [], os.getpid()
        try:
            return self._idle.pop()
        except IndexError:
            pool: Any = self._sync_pool()
            return pool.connection_class(**pool.connection_kwargs)

    def call(self, build: Build, deadline: float | None, extra: float = 0.0, size: int = 0) -> Any:
        """Run one command (built per attempt) until a reply: ``extra`` is how long the command
        itself may block on the server, ``size`` about how many bytes it has (a large one gets
        time to upload, see ``UPLOAD_RATE``). Retries lost connections for ``RETRY_FOR``
        seconds."""
        first_failure: float | None = None
        attempt = 0
        large = size > LARGE
        if large:
            extra += size / UPLOAD_RATE
        while True:
            now = time.monotonic()
            give_up = now + extra + IO_TIMEOUT
            plain = not extra
            if deadline is not None and deadline < give_up:
                give_up = deadline
                plain = False
            args = build(give_up, attempt)
            try:
                return self._run(args, give_up, plain, large)
            except _NoReply as exc:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise Expired() from None
                if first_failure is None:
                    first_failure = now
                delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
                if now - first_failure + delay > RETRY_FOR:
                    raise ConnectionError(
                        f"the Redis server at {self.public} did not answer for {RETRY_FOR} s: {exc}"
                    ) from exc.__cause__
                if deadline is not None and now + delay >= deadline:
                    raise Expired() from None
                time.sleep(delay)
                attempt += 1

    def _run(self, args: Sequence[Any] | Packed, give_up: float, plain: bool, large: bool = False) -> Any:
        script = _script_of(args)
        if script is None:
            return self._attempt(args, give_up, plain, large)
        if large:  # loaded first: a large command is not uploaded twice for a NOSCRIPT
            self._attempt(("SCRIPT", "LOAD", script.source), give_up)
        try:
            return self._attempt(args, give_up, plain, large)
        except redis.exceptions.NoScriptError:
            self._attempt(("SCRIPT", "LOAD", script.source), give_up)
            return self._attempt(args, give_up, plain, large)

    # -- asyncio ---------------------------------------------------------------------------

    async def _loop_pool(self, loop: asyncio.AbstractEventLoop) -> redis.asyncio.ConnectionPool:
        found = self._async_pools.get(loop)
        if found is not None:
            return found[0]
        pool = redis.asyncio.ConnectionPool.from_url(self.url, **_OPTIONS)
        pools = self._async_pools

        async def until_shutdown() -> Any:
            try:
                yield None
            finally:
                pools.pop(loop, None)
                await pool.disconnect()

        watch = until_shutdown()
        pools[loop] = (pool, watch)  # (held here: a collected generator would disconnect now)
        await watch.asend(None)  # started in this loop: its shutdown_asyncgens closes it
        return pool

    async def _attempt_async(self, args: Sequence[Any] | Packed, give_up: float, large: bool = False) -> Any:
        import asyncio

        pool: Any = await self._loop_pool(asyncio.get_running_loop())
        conn: Any = None
        try:
            try:  # (a new connection's AUTH/SELECT keeps the bound too: review 2, finding 01)
                async with asyncio.timeout(max(0.0, give_up - time.monotonic())):
                    conn = await pool.get_connection()
            except TimeoutError:
                raise _NoReply("no connection in time") from None
            if large:  # (redis.asyncio bounds a write and a read by it: see _attempt)
                conn.socket_timeout = max(IO_TIMEOUT, give_up - time.monotonic())
            try:
                if isinstance(args, Packed):
                    await conn.send_packed_command([args.data])
                else:
                    await conn.send_command(*args)
                try:
                    async with asyncio.timeout(max(0.0, give_up - time.monotonic())):
                        return await conn.read_response()
                except TimeoutError:
                    await conn.disconnect()
                    raise _NoReply("no reply in time") from None
            finally:
                if large:
                    conn.socket_timeout = IO_TIMEOUT
        except redis.exceptions.AuthenticationError as exc:
            if conn is not None:
                await conn.disconnect()
            raise ConnectionError(
                f"the Redis server at {self.public} refused the credentials: {exc}"
            ) from exc
        except _UNREACHABLE as exc:
            if conn is not None:
                await conn.disconnect()
            raise _NoReply(str(exc)) from exc
        except redis.exceptions.NoScriptError:
            raise  # (loaded by the caller, and tried again)
        except redis.exceptions.ResponseError as exc:
            if _unauthenticated(exc):
                await conn.disconnect()
                raise ConnectionError(f"the Redis server at {self.public} needs credentials: {exc}") from exc
            await conn.disconnect()
            raise _refused(self.public, exc) from exc
        except BaseException:
            if conn is not None:
                await asyncio.shield(conn.disconnect())
            raise
        finally:
            if conn is not None:
                await asyncio.shield(pool.release(conn))

    async def _run_async(self, args: Sequence[Any] | Packed, give_up: float, large: bool = False) -> Any:
        script = _script_of(args)
        if script is None:
            return await self._attempt_async(args, give_up, large)
        if large:  # (see _run)
            await self._attempt_async(("SCRIPT", "LOAD", script.source), give_up)
        try:
            return await self._attempt_async(args, give_up, large)
        except redis.exceptions.NoScriptError:
            await self._attempt_async(("SCRIPT", "LOAD", script.source), give_up)
            return await self._attempt_async(args, give_up, large)

    async def call_async(
        self,
        build: Build,
        deadline: float | None,
        extra: float = 0.0,
        stop: list[bool] | None = None,
        size: int = 0,
    ) -> Any:
        """``call`` for asyncio (the same bounds). Once ``stop[0]`` is true (the task was
        cancelled), no attempt is made after one that failed: ``Expired``."""
        import asyncio

        first_failure: float | None = None
        attempt = 0
        large = size > LARGE
        if large:
            extra += size / UPLOAD_RATE
        while True:
            now = time.monotonic()
            give_up = now + extra + IO_TIMEOUT
            if deadline is not None and deadline < give_up:
                give_up = deadline
            args = build(give_up, attempt)
            try:
                return await self._run_async(args, give_up, large)
            except _NoReply as exc:
                now = time.monotonic()
                if (deadline is not None and now >= deadline) or (stop is not None and stop[0]):
                    raise Expired() from None
                if first_failure is None:
                    first_failure = now
                delay = _BACKOFF[min(attempt, len(_BACKOFF) - 1)]
                if now - first_failure + delay > RETRY_FOR:
                    raise ConnectionError(
                        f"the Redis server at {self.public} did not answer for {RETRY_FOR} s: {exc}"
                    ) from exc.__cause__
                await asyncio.sleep(delay)
                if stop is not None and stop[0]:
                    raise Expired() from None
                attempt += 1


_SCRIPTS: dict[bytes, Script] = {}


def _script_of(args: Sequence[Any] | Packed) -> Script | None:
    """The script a command runs (None: not a script call)."""
    if isinstance(args, Packed):
        return args.script
    if args[0] == "EVALSHA":
        return _SCRIPTS[args[1]]
    return None


def _unauthenticated(exc: Exception) -> bool:
    """An error reply that says the connection has not authenticated (a server with a password,
    reached with a URL without it)."""
    text = str(exc)
    return text.startswith(("NOAUTH", "Protocol error: unauthenticated"))


def script(source: str) -> Script:
    s = Script(source)
    _SCRIPTS[s.sha] = s
    return s


_links: dict[str, Link] = {}
_links_lock = threading.Lock()
_credentials: dict[str, str] = {}


def link(url: str) -> Link:
    """The one Link of this process to ``url``."""
    with _links_lock:
        found = _links.get(url)
        if found is None:
            found = _links[url] = Link(url)
            _credentials.setdefault(found.public, url)
        return found


def remember(url: str) -> None:
    """Let handles that arrive without secrets (unpickled) use ``url``'s to reach its server."""
    with _links_lock:
        _credentials[public_url(url)] = url


def with_secrets(public: str) -> str:
    """The full URL known here for a URL without secrets (itself when none is known)."""
    with _links_lock:
        return _credentials.get(public, public)


def _disconnect(conn: Any) -> None:
    conn.disconnect()


def _connect_by(conn: Any, give_up: float) -> None:
    """Connect ``conn`` (and run its AUTH/SELECT handshake) by the attempt's give-up instant:
    redis-py's lazy connect waits for the handshake's reply with the socket timeout, so on a
    paused server every new connection of a URL with a password or a database took IO_TIMEOUT,
    whatever the call's bound (review 2, finding 01). Then the usual timeout is set back; any
    exception meanwhile disconnects the connection (``Link._attempt``), so a connected one always
    has it."""
    left = max(0.001, give_up - time.monotonic())
    conn.socket_connect_timeout = min(CONNECT_TIMEOUT, left)
    conn.socket_timeout = min(IO_TIMEOUT, left)
    conn.connect()
    conn.socket_timeout = IO_TIMEOUT
    conn._sock.settimeout(IO_TIMEOUT)
    buffer = getattr(conn._parser, "_buffer", None)  # (the pure-Python parsers keep a copy)
    if buffer is not None:
        buffer.socket_timeout = IO_TIMEOUT
    if hasattr(conn._parser, "_socket_timeout"):  # (hiredis's)
        conn._parser._socket_timeout = IO_TIMEOUT


def _parser_ready(conn: Any) -> bool:
    """Whether a connection's reply parser is set up (both of redis-py's parsers drop their
    reader at a disconnect and make it at a connect: one without it cannot read a reply)."""
    parser = conn._parser
    return getattr(parser, "_buffer", True) is not None and getattr(parser, "_reader", True) is not None


def _refused(public: str, exc: redis.exceptions.ResponseError) -> ServerError:
    """An error reply as mpsc reports it."""
    text = str(exc).split(" script: ")[0]
    return ServerError(f"the Redis server at {public} refused the call: {text}")
