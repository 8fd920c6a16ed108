"""What a message is on the wire: one datagram of the channel's SOCK_SEQPACKET socket.

A datagram is delivered whole or not at all, to exactly one reader, however many processes
write to the socket at once; so there is no lock between senders, and a sender killed at any
instant leaves either its whole message or nothing. Layout::

    header (4 bytes: flags, 0, 0, 0) | body
    fds (SCM_RIGHTS): [token, notice]  if OFFER   (a rendezvous offer, see _rendezvous)
                      [memfd]          if LARGE
                      [handle fds...]  the fds of handles inside the value (see _travel)

The body is the value pickled with protocol 5, or, for a value whose pickle is larger than
``INLINE_MAX``, the pickle's length, the pickle itself being in a memfd that travels with the
datagram (a datagram must fit in the socket's buffer; a memfd has no size limit but memory, and
the kernel frees it with its last fd, so a dead process leaks nothing). That costs two copies at
the sender (pickling, writing the memfd) and one at the receiver (unpickling from a read-only
mapping of the memfd). An empty datagram is never sent: reading one means every sender is gone.

Interrupts (see ``mpsc._interrupts``): the system calls that make a send or a receive happen
are made as ``for state.attr in map(call, ...): break``, which stores their result with no
check point in between, so whoever handles an exception knows whether the call happened. What
follows a receive is a restartable step (:func:`settle`) that can be finished after an
exception lands in it; fds are closed by :func:`close_fds`, each exactly once.
"""

from __future__ import annotations

import _socket
import array
import errno
import mmap
import os
import pickle
import socket
import struct
from operator import length_hint
from typing import Any, Final, NoReturn

from .._errors import RecvError
from .._interrupts import came_through
from . import _travel
from ._endpoint import carrying, close_fds, unnoting
from ._rings import BUSY, may_wait

INLINE_MAX: Final = 64 * 1024
"""Pickles up to this size travel in the datagram itself; larger ones in a memfd."""

OFFER: Final = 1
LARGE: Final = 2
HINTED: Final = 4  # an offer of try_send, made after taking a waiting receiver's hint
_HEADER: Final = struct.Struct("<B3x")
_LENGTH: Final = struct.Struct("<Q")
_PLAIN: Final = _HEADER.pack(0)
_COPY_MAX: Final = 4096
MAX_FDS: Final = 253  # SCM_MAX_FD: the most fds one datagram can carry
RECV_SIZE: Final = _HEADER.size + INLINE_MAX
ANC_SIZE: Final = socket.CMSG_SPACE(MAX_FDS * 4)
# Plain ints: the flag enums' operators cost more than the system calls' own work.
SEND_FLAGS: Final = int(socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
# (getattr: the module imports where MSG_CMSG_CLOEXEC is missing; channels refuse to be made there)
RECV_FLAGS: Final = int(socket.MSG_DONTWAIT | getattr(socket, "MSG_CMSG_CLOEXEC", 0))
_TRUNCATED: Final = int(socket.MSG_TRUNC | socket.MSG_CTRUNC)
_RECV_SIZE: Final = (RECV_SIZE,)
_ANC_SIZE: Final = (ANC_SIZE,)
_RECV_FLAGS: Final = (RECV_FLAGS,)
CREDIT: Final = b"\x01"

RETRIES: Final = 3
"""How often a message is unpickled again after interrupts landed in its own unpickling code."""
UNREADABLE: Final = -1
"""``Taking.failures`` of a message that ended in an error: end of stream, or unreadable."""

NOTHING: Final[Any] = object()
"""What a non-blocking attempt returns when it would have to wait."""


class Congested(BlockingIOError):
    """The kernel refuses to carry more fds now: the user's fds in flight in all sockets reached
    the sender's ``RLIMIT_NOFILE`` (``ETOOMANYREFS``; root is exempt). Like a full buffer, it
    clears as receivers read, but no fd says when: a sender tries again after
    ``_waiting.CONGESTED_WAIT``."""


class Outgoing:
    """A message ready to be sent: its datagram and the fds that go with it (owned here).

    It can be sent several times (a rendezvous offer that was dropped is made again), so its
    fds are closed only by :meth:`close`.
    """

    __slots__ = ("__weakref__", "data", "fds")

    def __init__(self) -> None:
        self.data = b""
        self.fds: list[int] = []  # every fd is added here as it is made: close() finds it

    def close(self) -> None:
        """Close the fds this message owns (restartable)."""
        close_fds(self.fds)

    def release_payload(self) -> None:
        """Free a large value's pages (truncate its memfd), for a message that will never be
        read: every copy of the memfd, a datagram's in a socket included, then holds none."""
        if self.data and self.data[0] & LARGE and self.fds:
            os.ftruncate(self.fds[0], 0)


def encode(value: Any, message: Outgoing, pickled: bytes | None = None) -> None:
    """Pickle ``value`` into ``message`` (made empty by the caller, who owns it and closes it).
    A value that cannot be pickled raises here, as pickle raises it: ``TypeError`` or
    ``pickle.PicklingError``, or, for what Python 3.11 reports as an ``AttributeError`` (a local
    class or function), a ``PicklingError`` whose ``__cause__`` it is. ``pickled``: the value's
    pickle, made already (by a compiled step that handed the send on), with no handle inside.

    Every fd made here (a handle's duplicates, a large value's memfd) is in ``message.fds``
    from the instant it exists, so an exception landing anywhere leaks none."""
    fds = message.fds
    try:
        body = _pickled(value, fds) if pickled is None else pickled
        if len(body) <= INLINE_MAX:
            data = _PLAIN + body
        else:
            # Made and recorded with no check point between (a C call inside a for step).
            for fd in map(os.memfd_create, ("mpsc-message",), (os.MFD_CLOEXEC,)):
                break
            fds.insert(0, fd)
            _write_memfd(fd, body)
            data = _HEADER.pack(LARGE) + _LENGTH.pack(len(body))
        if fds:
            if len(fds) > MAX_FDS - 2:
                raise ValueError(f"a message can carry at most {MAX_FDS - 2} file descriptors of handles")
            if len(fds) > (data[0] & LARGE and 1):  # handles' fds: see _endpoint.carrying
                carrying(message)
                unnoting(fds)
    except BaseException:
        close_fds(fds)
        unnoting(fds)
        raise
    message.data = data


def _pickled(value: Any, fds: list[int]) -> bytes:
    # Set and restored by attribute stores, which are no check points: an interrupt cannot
    # leave this thread collecting (its next spawn would pickle handles as if into a message).
    local = _travel.local
    previous = local.outgoing
    local.outgoing = fds
    try:
        return pickle.dumps(value, protocol=5)
    except AttributeError as exc:
        close_fds(fds)
        raise pickle.PicklingError(
            f"cannot send a {type(value).__name__} on an mpsc.process channel: {exc}"
        ) from exc
    except BaseException:
        close_fds(fds)
        raise
    finally:
        local.outgoing = previous


def _write_memfd(fd: int, body: bytes) -> None:
    view = memoryview(body)
    while True:  # (not ``while view``: see ``mpsc._ops.recorded``)
        if not view:
            break
        view = view[os.write(fd, view) :]


def send(
    sock: _socket.socket, message: Outgoing, into: Any, extra: tuple[int, ...] = (), flags: int = 0
) -> None:
    """One non-blocking attempt to send ``message`` (with ``extra`` fds first: an offer's, which
    sets OFFER and ``flags`` in its header). Once the datagram is in the socket, ``into.out`` is
    true (stored with no check point after the system call).

    Raises ``BlockingIOError`` when the socket's buffer is full (:class:`Congested` when too
    many fds are in flight), ``BrokenPipeError`` or ``ConnectionResetError`` when every receiver
    is gone.
    """
    if extra or message.fds:
        fds = [*extra, *message.fds]
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        data = bytes((message.data[0] | OFFER | flags,)) + message.data[1:] if extra else message.data
        try:
            for into.out in map(sock.sendmsg, ([data],), (ancillary,), (SEND_FLAGS,)):
                break
        except OSError as exc:
            if exc.errno == errno.ETOOMANYREFS:
                raise Congested(exc.errno, "too many file descriptors in flight") from None
            raise
    else:
        for into.out in map(sock.send, (message.data,), (SEND_FLAGS,)):
            break


class Taking:
    """One receive, from the datagram it took to the value: what is done is recorded, so that
    :func:`settle` can be run again to finish after an exception landed in it."""

    __slots__ = (
        "__weakref__",
        "adopted",
        "busy",
        "claimed",
        "credited",
        "credits",
        "failures",
        "fds",
        "feed",
        "held",
        "interrupted",
        "ledger",
        "offer",
        "raw",
        "value",
    )
    adopted: dict[int, Any] | None  # its handles' adoptions (_travel.Adoption), by their first fd's index
    busy: bool  # the last take found the ring's lock held by a process that does not run now
    claimed: bytes | None
    credited: Any
    failures: int  # how often an interrupt landed in the value's own unpickling code; or UNREADABLE
    fds: list[int] | None
    feed: Any  # pickle.loads's one-item argument iterator: consumed once it started
    interrupted: BaseException | None  # the first that landed in the value's own code
    held: bool  # counted in the ledger as holding a credit (see _ledger)
    ledger: Any  # a bounded channel's _ledger.Ledger, or None
    offer: list[int]
    value: Any

    def __init__(self, credits: int) -> None:
        self.credits = credits
        self.raw: Any = None
        self.ledger = None
        self.held = False

    def take(self, sock: _socket.socket) -> bool:
        """Take a datagram from ``sock`` if one is there (into ``raw``); whether one was.

        With ``credits`` (a credit pipe's write end; -1 for none), :func:`settle` gives a credit
        back for it first thing. The ``ledger`` counts the credit as this process's from before
        the datagram may be taken (until the receive ends, or now if none was there), so that
        a process killed between the two system calls does not cost its channel that slot for
        good (see ``_ledger``).
        """
        self.begin()
        ledger = self.ledger
        if ledger is not None:
            ledger.hold(self)
        try:
            for self.raw in map(sock.recvmsg, _RECV_SIZE, _ANC_SIZE, _RECV_FLAGS):
                break
        except BlockingIOError:
            if ledger is not None:
                ledger.release(self)
            return False
        except ConnectionResetError:  # (not seen on Linux, where the end is an empty read)
            self.raw = (b"", [], 0, None)
        return True

    def take_from(self, ring: Any, fd: int) -> bool:
        """:meth:`take` on a channel with a ring (``_rings``): the next record, or marked
        datagram from the socket ``fd``, if one is there (into ``raw``, shaped as ``recvmsg``'s
        result); whether one was."""
        self.begin()
        try:
            for self.raw in map(ring.take, (fd,), (may_wait(),)):
                break
        except BUSY:  # the lock's holder does not run now (see _ring.c): nothing now
            self.busy = True
            return False
        return self.raw is not None

    def begin(self) -> None:
        """Forget the datagram taken before (none is taken yet)."""
        self.raw = None
        self.credited = self.credits < 0
        self.fds = None
        self.value = NOTHING
        self.failures = 0
        self.feed = self.interrupted = self.adopted = None
        self.busy = False

    @property
    def failed(self) -> bool:
        """Whether the datagram taken ended in an error (end of stream, unreadable)."""
        return self.failures == UNREADABLE

    def close(self) -> None:
        """Close the fds nobody took, and what a carried handle's adoption left half-made
        (restartable); in a forked child (see ``_endpoint.carrying``), also the fds of a
        datagram the parent's thread had just taken."""
        if self.fds is None and self.raw is not None:
            self.offer, self.fds = _NO_FDS, _fds_of(self.raw[1])
        if self.fds is not None:
            close_fds(self.offer)
            close_fds(self.fds)
        if self.adopted:
            _travel.abandon(self.adopted)


_NO_FDS: Final[list[int]] = []  # (never added to: close_fds leaves an empty list alone)


def settle(taking: Taking) -> None:
    """From the datagram ``taking`` took to ``taking.value`` (left ``NOTHING`` for an offer its
    sender withdrew, which is no message). Raises ``RecvError`` at end of stream, and whatever
    unpickling raises (the message is consumed). Restartable, as :class:`Taking` says: an
    exception landing before unpickling started is answered by unpickling when run again; one
    landing in Python code that the value's unpickling runs (its classes' own, or a handle's
    adoption) by unpickling once more, and if that fails too, the message is unreadable and the
    exception that landed is raised.
    """
    if taking.failures == UNREADABLE:
        return
    data, ancillary, msg_flags, _ = taking.raw
    if not data:
        taking.failures = UNREADABLE
        raise RecvError()
    if not taking.credited:
        try:
            for taking.credited in map(os.write, (taking.credits,), (CREDIT,)):  # noqa: B020
                break
        except (BrokenPipeError, BlockingIOError):  # no sender left; (a full pipe cannot be)
            taking.credited = True
    if taking.fds is None:
        if ancillary or msg_flags & _TRUNCATED:
            _parse(taking, data, ancillary, msg_flags)
        else:  # the common case: no fds, no offer
            taking.offer = _NO_FDS
            taking.claimed = None
            taking.fds = _NO_FDS
    fds = taking.fds
    assert fds is not None
    if taking.offer:
        if taking.claimed is None:
            try:
                for taking.claimed in map(os.read, taking.offer[:1], (1,)):  # noqa: B020
                    break
            except BlockingIOError:  # withdrawn (a forked child holds the token's write end)
                taking.claimed = b""
        if taking.claimed == b"t" and len(taking.offer) == 2:
            # Said in a byte, not only by closing the notice: a child forked while this thread
            # held the notice has a copy of it that no close of ours ends. (Said again if an
            # exception lands and this runs again: the sender only looks for readability.)
            try:
                os.write(taking.offer[1], b"c")
            except OSError:  # the sender withdrew and went: nobody to tell
                pass
        close_fds(taking.offer)
    if taking.claimed is not None and taking.claimed != b"t":
        close_fds(fds)  # withdrawn by its sender: not a message
        return
    if taking.value is NOTHING:
        try:
            taking.feed = None  # (before the call: one landing as it starts finds no feed)
            _decode(taking, data, fds)
        except BaseException as exc:
            if _unpickling_failed(taking, exc):
                interrupted = taking.interrupted
                assert interrupted is not None
                raise interrupted from None  # (a second run failed: it is what landed)
            raise
    if fds:
        close_fds(fds)


def _unpickling_failed(taking: Taking, exc: BaseException) -> bool:
    """Classify what ``_decode`` raised (no check point before the classification is stored,
    but for the calls it makes: one landing there leaves it unclassified, and the message is
    decoded again). An exception that came before ``pickle.loads`` started (its feed not
    consumed) or after the value was stored is an interrupt: decoding again is safe. One that
    came out of ``pickle.loads`` is the message's own error (consumed) if it is an
    ``Exception`` that did not come out of a carried handle's adoption (mpsc's own code, where
    anything that comes out landed); a ``KeyboardInterrupt`` or other ``BaseException`` there
    landed while the value's own Python code ran, and the message is decoded again (up to
    ``RETRIES`` times), after which it counts as unreadable: whether that happened now (then
    what landed first is what the caller should see)."""
    feed = taking.feed
    if taking.value is not NOTHING or feed is None or length_hint(feed):
        return False
    if taking.failures >= RETRIES or (isinstance(exc, Exception) and _out_of_loads(taking, exc)):
        taking.failures = UNREADABLE
        assert taking.fds is not None
        close_fds(taking.fds)
        return taking.interrupted is not None and exc is not taking.interrupted
    if taking.interrupted is None:
        taking.interrupted = exc
    taking.failures += 1
    return False


def _out_of_loads(taking: Taking, exc: BaseException) -> bool:
    """Whether ``exc`` came out of ``pickle.loads`` itself, not out of a carried handle's
    adoption inside it, nor from a check point after it (the large path's ``mapping.close()``
    in its ``finally``: one that lands there replaces the exception that came out). A message
    with fds is unpickled in :func:`_loads`; one without, straight in :func:`_decode`, with no
    check point after the call."""
    if came_through(exc, _ADOPTION):
        return False
    return not taking.fds or came_through(exc, _LOADS)


_ADOPTION: Final = _travel._from_message.__code__
"""A carried handle's adoption, which ``pickle.loads`` calls: mpsc's own code, so whatever came
out of it landed there, and it is no error of the value's (``_interrupts.came_through``). An
error of the adoption itself comes back on each try, and the message ends unreadable after
``RETRIES``."""


def _fds_of(ancillary: Any) -> list[int]:
    fds: list[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
    return fds


def _parse(taking: Taking, data: bytes, ancillary: Any, msg_flags: int) -> None:
    fds = _fds_of(ancillary)
    if data[0] & OFFER:
        taking.offer = fds[:2]
        del fds[:2]
    else:
        taking.offer = _NO_FDS
    taking.claimed = None
    taking.fds = fds
    if len(fds) > (data[0] & LARGE and 1):  # handles' fds: see _endpoint.carrying
        carrying(taking)
    if msg_flags & _TRUNCATED:
        taking.failures = UNREADABLE
        taking.close()
        if msg_flags & socket.MSG_CTRUNC and not data[0] & OFFER:
            # The kernel could not install its fds here (our ancillary buffer takes the most a
            # datagram carries), and dropped them: they were the value (a memfd) or part of it.
            raise OSError(
                errno.EMFILE,
                "mpsc.process: this process had no file descriptor free (ulimit -n) for a "
                "message that carried some (a large value or a handle): that message is lost",
            )
        if msg_flags & socket.MSG_CTRUNC:  # an offer: its sender finds it dropped, offers again
            raise OSError(errno.EMFILE, "mpsc.process: no file descriptor free (ulimit -n)")
        raise RuntimeError("mpsc.process: a message arrived truncated (not sent by mpsc.process?)")


def _decode(taking: Taking, data: bytes, fds: list[int]) -> None:
    """Unpickle the message into ``taking.value``. ``pickle.loads`` is called by ``map`` on a
    one-item feed and its result stored with no check point after it, so once an exception comes
    out, the feed says whether unpickling had started (see :func:`_unpickling_failed`)."""
    if not fds:  # the common case: a small value with no handles in it
        if data[0] & LARGE:
            _unreadable(taking, "a large message arrived without its memfd")
        # A small body is cheaper copied than viewed.
        body = data[_HEADER.size :] if len(data) <= _COPY_MAX else memoryview(data)[_HEADER.size :]
        feed = taking.feed = iter((body,))
        for taking.value in map(pickle.loads, feed):
            break
        else:  # (the for loop took it for the end of the feed)
            raise _stopped()
        return
    if data[0] & LARGE:
        (length,) = _LENGTH.unpack_from(data, _HEADER.size)
        mapping = mmap.mmap(fds[0], length, mmap.MAP_SHARED, mmap.PROT_READ)
        try:
            _loads(taking, mapping, fds, 1)
        finally:
            mapping.close()
        return
    _loads(taking, memoryview(data)[_HEADER.size :], fds, 0)


def _stopped() -> RuntimeError:
    """The value's own error when its unpickling raised ``StopIteration`` (which must not end the
    caller's iteration, as a generator's becomes a RuntimeError); ``_steps.c`` says the same."""
    return RuntimeError("unpickling the message raised StopIteration")


def own_error(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a receive, is the message's own unpickling error (it came out of
    :func:`_decode`), not the end of the stream or an empty channel: an iteration must not end on
    it (``RecvError`` or ``Empty`` raised by a value's reconstructor)."""
    return came_through(exc, _decode.__code__)


def _unreadable(taking: Taking, why: str) -> NoReturn:
    taking.failures = UNREADABLE
    assert taking.fds is not None
    close_fds(taking.fds)
    raise RuntimeError(f"mpsc.process: {why}")


def _loads(taking: Taking, body: Any, fds: list[int], first: int) -> None:
    handle_fds = fds[first:]
    local = _travel.local
    previous = local.incoming, local.adopted
    if taking.adopted is None:
        taking.adopted = {}
    try:
        local.incoming, local.adopted = handle_fds, taking.adopted
        feed = taking.feed = iter((body,))
        for taking.value in map(pickle.loads, feed):
            break
        else:  # (the for loop took it for the end of the feed)
            raise _stopped()
    finally:
        local.incoming, local.adopted = previous


_LOADS: Final = _loads.__code__
"""Where a message with fds is unpickled (see :func:`_out_of_loads`)."""
